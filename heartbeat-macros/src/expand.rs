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
    let (slug, slug_span) = match &args.slug {
        Some(s) => (s.value.clone(), s.span),
        None => (sig.ident.to_string().replace('_', "-"), sig.ident.span()),
    };

    // Compile-time checks run by heartbeat-core's own validators (const fns),
    // so the macro and `Check::build` can never disagree.
    let mut checks = vec![quote_spanned! {slug_span=>
        const _: () = ::heartbeat_core::__private::assert_valid(
            ::heartbeat_core::__private::validate_slug_const(#slug));
    }];
    let mut builder = quote! { ::heartbeat_core::Check::builder(#slug) };
    if let Some(s) = &args.schedule {
        let value = &s.value;
        checks.push(quote_spanned! {s.span=>
            const _: () = ::heartbeat_core::__private::assert_valid(
                ::heartbeat_core::__private::validate_cron(#value));
        });
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

    let output = match &sig.output {
        ReturnType::Default => quote! { () },
        ReturnType::Type(_, ty) => quote! { #ty },
    };
    let outcome = quote! {
        |__heartbeat_output| {
            #[allow(unused_imports)]
            use ::heartbeat_core::__private::{ViaBoxedError as _, ViaDisplay as _, ViaRunOutcome as _};
            (&&::heartbeat_core::__private::Output(__heartbeat_output)).heartbeat_outcome()
        }
    };
    let run = if sig.asyncness.is_some() {
        quote! {
            ::heartbeat_core::__private::run_async(&__HEARTBEAT_CHECK, async move {
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
        quote! {
            ::heartbeat_core::__private::run_sync(&__HEARTBEAT_CHECK, move || -> #output #block, #outcome)
        }
    };
    Ok(quote! {
        #(#attrs)*
        #vis #sig {
            #(#checks)*
            static __HEARTBEAT_CHECK: ::heartbeat_core::__private::LazyCheck =
                ::heartbeat_core::__private::LazyCheck::new(|| ::heartbeat_core::__private::build(#builder));
            #run
        }
    })
}
