#!/usr/bin/env python3
"""Summary and per-spec table of a run of hack/reloader-suite.sh:  results.py WORK

Reads WORK/durations.tsv (suite, wall seconds, exit code of the suite binary, in run
order), WORK/reports/SUITE.json (Ginkgo's JSON report) and the controller logs
WORK/logs/NNN-*.log. Writes WORK/results.tsv, one row per spec:

  suite  state  seconds  attempts  restarts_logged  labels  spec  reason

state: passed, failed (also panicked, timedout, interrupted, aborted), skipped (Skip() at
run time), pending (a PIt that the focus, if any, selects), or not-run (left out by the
focus or label filter, or because the suite's setup failed or skipped). attempts: runs of
the spec (more than 1 with FLAKE_ATTEMPTS: failed before). Suite-level nodes
(BeforeSuite...) get a row only when they did not pass. restarts_logged: how many
reload/restart lines the controller logged while the spec ran (specs run one at a time),
which tells "reloaded, but not the way the suite checks" from "did not reload"; a heuristic
on the log's words (Reloader stamps whole seconds, so its line in the second a spec started
or ended counts for that spec). reason: the failure or skip message on one line, cut at 300 characters.

Prints the per-suite table (also WORK/summary.txt) and a last line
"reloader-suite: N passed, N failed, N skipped"; exits 1 if a spec failed or a suite left
no report, else 0.
"""
import collections
import glob
import json
import os
import re
import sys
from datetime import datetime

work = sys.argv[1]
FAILED = {"failed", "panicked", "timedout", "interrupted", "aborted"}
RESTART = re.compile(r"Changes detected in .* updated|was restarted|restarted \d+ of|[Rr]olled out|"
                     r"[Cc]reated [Jj]ob|was reloaded|[Rr]eloaded (Deployment|DaemonSet|StatefulSet|Rollout|CronJob|Job)")


def ts(s):
    s = re.sub(r"(\.\d{6})\d+", r"\1", s)
    return datetime.fromisoformat(s.replace("Z", "+00:00")).timestamp()


def restart_events():
    """(start, end) of each restart line: logrus text stamps whole seconds, so such a line
    stands for its whole second; the others for their millisecond."""
    events = []
    for f in sorted(glob.glob(os.path.join(work, "logs", "[0-9][0-9][0-9]-*.log"))):
        for line in open(f, errors="replace"):
            if line.startswith("#") or not RESTART.search(line):
                continue
            t, width = None, 0.001
            try:
                if line.startswith("{"):  # JSON logs (slog, logrus): "time"
                    stamp = json.loads(line)["time"]
                    t, width = ts(stamp), (0.001 if "." in stamp else 1)
                elif m := re.match(r'time="([^"]+)"', line):  # logrus text (Reloader)
                    t, width = ts(m.group(1)), (0.001 if "." in m.group(1) else 1)
                elif m := re.match(r"(\d{4}-\d\d-\d\d \d\d:\d\d:\d\d),(\d{3})", line):  # cuscon text, local time
                    t = datetime.strptime(m.group(1), "%Y-%m-%d %H:%M:%S").timestamp() + int(m.group(2)) / 1000
            except (ValueError, KeyError):
                pass
            if t is not None:
                events.append((t, t + width))
    return events


suites = []  # (name, seconds, rc)
try:
    for line in open(os.path.join(work, "durations.tsv")):
        name, secs, rc = line.rstrip("\n").split("\t")
        suites.append((name, int(secs), int(rc)))
except FileNotFoundError:
    pass

events = restart_events()
rows, counts, problems = [], collections.defaultdict(collections.Counter), []
for name, secs, rc in suites:
    path = os.path.join(work, "reports", f"{name}.json")
    try:
        report = json.load(open(path))
    except Exception as e:  # the binary died before it wrote its report
        problems.append(f"{name}: no report ({e.__class__.__name__}); suite exit code {rc}, see logs/suite-{name}.out")
        counts[name]["no report"] += 1
        continue
    for suite in report:
        pre = suite.get("PreRunStats") or {}
        counts[name]["total"] += pre.get("TotalSpecs", 0)
        counts[name]["selected"] += pre.get("SpecsThatWillRun", 0)
        # Ginkgo reports every pending spec as pending, focused or not: with a focus, only
        # the ones it selects count as pending, the others as not-run.
        fs = (suite.get("SuiteConfig") or {}).get("FocusStrings") or []
        focus = re.compile("|".join(fs)) if fs else None
        for s in suite.get("SpecReports") or []:
            kind, state = s.get("LeafNodeType", ""), s.get("State", "?")
            msg = ((s.get("Failure") or {}).get("Message") or "").strip().splitlines()
            if kind != "It" and state == "passed":
                continue
            if kind != "It" and state == "skipped" and not msg:
                continue
            spec = " ".join(list(s.get("ContainerHierarchyTexts") or []) + [s.get("LeafNodeText", "")]).strip()
            if kind != "It":
                spec = f"[{kind}] {spec}".strip()
            if state == "skipped" and not msg and not s.get("RunTime"):
                state = "not-run"
            if state == "pending" and focus and not focus.search(suite.get("SuiteDescription", "") + " " + spec):
                state = "not-run"
            labels = sorted({l for ls in (s.get("ContainerHierarchyLabels") or []) for l in (ls or [])}
                            | set(s.get("LeafNodeLabels") or []))
            n = ""
            if state not in ("not-run", "pending") and s.get("StartTime") and s.get("EndTime"):
                a, b = ts(s["StartTime"]), ts(s["EndTime"])
                n = str(sum(1 for t0, t1 in events if t0 <= b and t1 > a))
            secs_spec = (s.get("RunTime") or 0) / 1e9
            attempts = str(s.get("NumAttempts") or "") if state != "not-run" else ""
            rows.append((name, state, f"{secs_spec:.1f}", attempts, n, ",".join(labels), spec,
                         " ".join(l.strip() for l in msg if l.strip())[:300]))
            if kind == "It" or state in FAILED:
                counts[name]["failed" if state in FAILED else state] += 1
                if kind == "It":
                    counts[name]["its"] += 1

with open(os.path.join(work, "results.tsv"), "w") as f:
    f.write("suite\tstate\tseconds\tattempts\trestarts_logged\tlabels\tspec\treason\n")
    for r in rows:
        f.write("\t".join(x.replace("\t", " ") for x in r) + "\n")

# not-run: specs left out by the filters, and (absent from the report) the selected ones a
# failed suite setup kept from running; selected: the specs the filters chose.
cols = ["selected", "passed", "failed", "skipped", "pending", "not-run"]
out = [f"{'suite':12s} " + " ".join(f"{c:>8s}" for c in cols) + f" {'seconds':>8s}"]
tot = collections.Counter()
for name, secs, rc in suites:
    c = counts[name]
    c["not-run"] += c["total"] - c["its"]
    tot.update(c)
    tot["seconds"] += secs
    out.append(f"{name:12s} " + " ".join(f"{c[k]:8d}" for k in cols) + f" {secs:8d}" + ("  NO REPORT" if c["no report"] else ""))
out.append(f"{'total':12s} " + " ".join(f"{tot[k]:8d}" for k in cols) + f" {tot['seconds']:8d}")
for r in rows:
    if r[1] in FAILED:
        out.append(f"FAILED  {r[0]}: {r[6]}  ({r[2]}s, restarts logged: {r[4] or '-'}) {r[7][:160]}")
    elif r[1] == "passed" and r[3] not in ("", "1"):
        out.append(f"FLAKY   {r[0]}: {r[6]}  (passed on attempt {r[3]})")
out += problems
try:
    shim = open(os.path.join(work, "logs", "shim.log")).read()
    if n := shim.count("did not start"):
        out.append(f"the controller under test did not start {n} time(s): see logs/shim.log and logs/NNN-*.log")
except FileNotFoundError:
    pass
out.append(f"reloader-suite: {tot['passed']} passed, {tot['failed']} failed, {tot['skipped']} skipped")
text = "\n".join(out) + "\n"
open(os.path.join(work, "summary.txt"), "w").write(text)
sys.stdout.write(text)
sys.exit(1 if tot["failed"] or problems or not suites else 0)
