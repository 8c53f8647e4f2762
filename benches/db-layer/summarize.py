"""Medians and ratios of run.sh's logs: python3 summarize.py run|build LOG"""
import re, statistics, sys
kind, log = sys.argv[1], sys.argv[2]
rows = {}
for line in open(log):
    if kind == "run" and "RESULT" in line:
        d = dict(re.findall(r"(\w+)=(\S+)", line))
        d["layer"] = d["layer"].replace("-current", "")  # older logs
        key = d["layer"] + ("" if d.get("rt", "multi") == "multi" else f" ({d['rt']}-thread runtime)")
        rows.setdefault(key, []).append(d)
    if kind == "build" and line.startswith("BUILD"):
        d = dict(re.findall(r"(\w+)=(\S+)", line))
        rows.setdefault(d["choice"], []).append(d)
med = lambda ds, k: statistics.median(float(d[k]) for d in ds)
if kind == "run":
    base = {"sqlite": "rusqlite", "postgres": "tokio-postgres"}
    print("| layer | runs | create ms | write resources/s | vs base | lookups/s | vs base |")
    print("| --- | --- | --- | --- | --- | --- | --- |")
    for layer, ds in rows.items():
        engine = "sqlite" if "sqlite" in layer else "postgres"
        suffix = layer[len(ds[0]["layer"]):]
        b = rows.get(base[engine] + suffix) or rows[base[engine]]
        w, q = med(ds, "write_res_per_s"), med(ds, "read_q_per_s")
        print(f"| {layer} | {len(ds)} | {med(ds, 'create_ms'):.0f} | {w:,.0f} | "
              f"{w / med(b, 'write_res_per_s'):.2f} | {q:,.0f} | {q / med(b, 'read_q_per_s'):.2f} |")
else:
    print("| choice | builds | median clean release build s | min | max | packages in lock |")
    print("| --- | --- | --- | --- | --- | --- |")
    for c, ds in rows.items():
        s = [float(d["seconds"]) for d in ds]
        print(f"| {c} | {len(s)} | {statistics.median(s):.1f} | {min(s):.1f} | {max(s):.1f} | {ds[0]['lock_packages']} |")
