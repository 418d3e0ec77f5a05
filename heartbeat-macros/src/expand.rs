//! Code generation for `#[job]`. Generated code names only
//! `::heartbeat_core::__private` and `::heartbeat_core` public items.

use proc_macro2::TokenStream;
use quote::{quote, quote_spanned};
use syn::{ItemFn, ReturnType};

use crate::attr::{Args, Priority};

pub(crate) fn expand(args: Args, function: ItemFn) -> syn::Result<TokenStream> {
    let ItemFn {
        attrs,
        vis,
        sig,
        block,
    } = function;
    // The other arguments were checked while parsing, by the same
    // heartbeat-validate functions `Check::build` calls.
    let slug = match &args.slug {
        Some(s) => s.value.clone(),
        None => {
            let slug = sig.ident.to_string().replace('_', "-");
            crate::attr::check_slug(&slug, sig.ident.span())?;
            slug
        }
    };
    let mut builder = quote! { ::heartbeat_core::Check::builder(#slug) };
    if let Some(s) = &args.schedule {
        let value = &s.value;
        builder.extend(quote! { .schedule(#value) });
    }
    let secs = |v: u64| quote! { ::heartbeat_core::__private::Duration::from_secs(#v) };
    if let Some(e) = &args.every {
        let d = secs(e.value);
        builder.extend(quote! { .every(#d) });
    }
    if let Some(tz) = &args.tz {
        let value = &tz.value;
        builder.extend(quote! { .timezone(#value) });
    }
    if let Some(g) = &args.grace {
        let d = secs(g.value);
        builder.extend(quote! { .grace(#d) });
    }
    if let Some(m) = &args.max_runtime {
        let d = secs(m.value);
        builder.extend(quote! { .max_runtime(#d) });
    }
    if let Some(r) = &args.runbook {
        let value = &r.value;
        builder.extend(quote! { .runbook(#value) });
    }
    if let Some(p) = args.priority {
        let p = match p {
            Priority::P1 => quote! { P1 },
            Priority::P2 => quote! { P2 },
            Priority::P3 => quote! { P3 },
        };
        builder.extend(quote! { .priority(::heartbeat_core::Priority::#p) });
    }

    let (output, output_span) = match &sig.output {
        ReturnType::Default => (quote! { () }, sig.ident.span()),
        ReturnType::Type(_, ty) => (quote! { #ty }, syn::spanned::Spanned::span(&**ty)),
    };
    let outcome = quote_spanned! {output_span=>
        |__heartbeat_output| {
            #[allow(unused_imports)]
            use ::heartbeat_core::__private::{
                ViaDisplay as _, ViaDynError as _, ViaLocalDynError as _, ViaRunOutcome as _,
                ViaUnsupported as _,
            };
            ::heartbeat_core::__private::report(
                (&&&::heartbeat_core::__private::Output(__heartbeat_output)).heartbeat_report(),
            )
        }
    };
    let monitor = args.monitor.as_ref().map(|expr| {
        quote! { let __heartbeat_monitor: &::heartbeat_core::Monitor = &(#expr); }
    });
    let run = if sig.asyncness.is_some() {
        let which = match &monitor {
            Some(_) => {
                quote! { ::core::option::Option::Some(::core::clone::Clone::clone(__heartbeat_monitor)) }
            }
            None => quote! { ::core::option::Option::None },
        };
        quote! {
            #monitor
            ::heartbeat_core::__private::run_async(#which, &__HEARTBEAT_CHECK, async move {
                // Gives the block the function's return type, so `?` infers.
                #[allow(unreachable_code, clippy::diverging_sub_expression)]
                if false {
                    let __heartbeat_never: #output = loop {};
                    return __heartbeat_never;
                }
                #block
            }, #outcome).await
        }
    } else {
        let which = match &monitor {
            Some(_) => quote! { ::core::option::Option::Some(__heartbeat_monitor) },
            None => quote! { ::core::option::Option::None },
        };
        quote! {
            #monitor
            ::heartbeat_core::__private::run_sync(#which, &__HEARTBEAT_CHECK, move || -> #output #block, #outcome)
        }
    };
    Ok(quote! {
        #(#attrs)*
        #vis #sig {
            static __HEARTBEAT_CHECK: ::heartbeat_core::__private::LazyCheck =
                ::heartbeat_core::__private::LazyCheck::new(|| ::heartbeat_core::__private::build(#builder));
            #run
        }
    })
}
