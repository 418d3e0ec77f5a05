"""Regenerates cronsim_vectors.txt: whether Healthchecks' cron parser
(cronsim, the version self-hosted servers still run) accepts each
expression of the 5-field subset heartbeat allows.

    pip install --target /tmp/cronsim27 cronsim==2.7
    PYTHONPATH=/tmp/cronsim27 python3 cronsim_vectors.py > cronsim_vectors.txt

cronsim 2.8 accepts an impossible day-of-month when the day-of-week field is
restricted too ("0 0 31 2 1": Debian cron's OR); 2.7 and older reject it.
heartbeat follows the stricter rule, so its schedules work on both.
"""
import datetime

import cronsim

exprs = []
for month in range(1, 13):
    for day in range(1, 32):
        exprs.append(f"0 0 {day} {month} *")
exprs += [
    "0 0 31 2 1", "0 0 30 2 1-5", "0 0 30,31 2 *", "0 0 29-31 2 *",
    "0 0 30 2,3 *", "0 0 31 4,6,9,11 *", "0 0 31 1-12/2 *", "0 0 31 */2 *",
    "0 0 30 FEB *", "0 0 31 apr-jun *", "0 0 31 jun *", "0 0 31 jul *",
    "0 0 30-31/1 2 *", "0 0 31 2 *", "0 0 */31 2 *", "0 0 1,31 2 *",
    "0 0 31 2 SUN", "0 0 31 2 0-6", "0 0 31 2 *", "0 0 * 2 *",
    "0 3 * * *", "*/15 * * * *", "0 9-17 * * MON-FRI", "0 0 29 2 *",
]
print("# expression<TAB>ok|err, as cronsim 2.7 answers (see cronsim_vectors.py)")
for e in exprs:
    try:
        it = cronsim.CronSim(e, datetime.datetime(2024, 1, 1))
        next(it)
        print(f"{e}\tok")
    except Exception:
        print(f"{e}\terr")
