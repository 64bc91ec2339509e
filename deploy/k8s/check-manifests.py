#!/usr/bin/env python3
"""check-manifests.py - offline consistency checks of deploy/k8s (no cluster needed).

    kubectl kustomize deploy/k8s > all.yaml
    echo --- >> all.yaml; sh deploy/k8s/keys.sh /tmp/k >> all.yaml
    python3 deploy/k8s/check-manifests.py all.yaml      # needs PyYAML

Checks what a schema validator does not: every $(VAR) in args is defined,
probes and Services name ports that exist, Services select a workload,
selectors match pod labels, mounted volumes exist, Secret and ConfigMap
items exist, pods run as uid 10001 non-root with restricted containers,
and Secret volumes are mode 0440 (copied to 0600 files by the init
container, since the daemons refuse group-readable secret keys).
"""
import yaml, sys, re
docs = [d for d in yaml.safe_load_all(open(sys.argv[1])) if d]
by = {(d["kind"], d["metadata"]["name"]): d for d in docs}
errs = []
def check_pod(owner, spec, vct):
    vols = {v["name"]: v for v in spec.get("volumes", [])}
    vols.update({t["metadata"]["name"]: t for t in vct})
    sc = spec.get("securityContext", {})
    if not (sc.get("runAsNonRoot") and sc.get("runAsUser") == 10001): errs.append(owner + ": pod not non-root 10001")
    for c in spec.get("initContainers", []) + spec["containers"]:
        envs = {e["name"] for e in c.get("env", [])}
        for ef in c.get("envFrom", []):
            cm = by.get(("ConfigMap", ef["configMapRef"]["name"]))
            if cm is None: errs.append("%s: envFrom unknown configmap" % owner); continue
            envs |= set(cm["data"])
        for a in c.get("args", []) + c.get("command", []):
            for v in re.findall(r"\$\((\w+)\)", a):
                if v not in envs: errs.append("%s/%s: $(%s) not defined" % (owner, c["name"], v))
        ports = {p["name"] for p in c.get("ports", [])}
        for pr in ("livenessProbe", "readinessProbe", "startupProbe"):
            if pr in c and c[pr]["httpGet"]["port"] not in ports: errs.append("%s: %s port" % (owner, pr))
        for m in c.get("volumeMounts", []):
            if m["name"] not in vols: errs.append("%s/%s: mount of unknown volume %s" % (owner, c["name"], m["name"]))
        scc = c.get("securityContext", {})
        if scc.get("allowPrivilegeEscalation") is not False or scc.get("capabilities", {}).get("drop") != ["ALL"]:
            errs.append("%s/%s: not restricted" % (owner, c["name"]))
    for v in vols.values():
        if "secret" in v:
            sec = by.get(("Secret", v["secret"]["secretName"]))
            for it in v["secret"].get("items", []):
                if sec is None or it["key"] not in sec["data"]: errs.append("%s: secret key %s missing" % (owner, it["key"]))
            if v["secret"].get("defaultMode") != 0o440: errs.append("%s: defaultMode %r" % (owner, v["secret"].get("defaultMode")))
        if "configMap" in v:
            cm = by.get(("ConfigMap", v["configMap"]["name"]))
            for it in v["configMap"].get("items", []):
                if cm is None or it["key"] not in cm["data"]: errs.append("%s: configmap key %s missing" % (owner, it["key"]))
work = [d for d in docs if d["kind"] in ("Deployment", "StatefulSet")]
for d in work:
    n = d["metadata"]["name"]
    sel = d["spec"]["selector"]["matchLabels"]
    lab = d["spec"]["template"]["metadata"]["labels"]
    if any(lab.get(a) != b for a, b in sel.items()): errs.append("%s: selector does not match labels" % n)
    check_pod(n, d["spec"]["template"]["spec"], d["spec"].get("volumeClaimTemplates", []))
    if d["kind"] == "StatefulSet" and ("Service", d["spec"]["serviceName"]) not in by: errs.append("no headless service")
for d in docs:
    if d["kind"] != "Service": continue
    n, sel = d["metadata"]["name"], d["spec"]["selector"]
    targets = [x for x in work if all(x["spec"]["template"]["metadata"]["labels"].get(a) == b for a, b in sel.items())]
    if not targets: errs.append("service %s selects nothing" % n)
    names = {pp["name"] for t in targets for c in t["spec"]["template"]["spec"]["containers"] for pp in c.get("ports", [])}
    for p in d["spec"]["ports"]:
        if p["targetPort"] not in names: errs.append("service %s: targetPort %s" % (n, p["targetPort"]))
print("\n".join(errs) if errs else "ok: %d objects (%s), references consistent" % (len(by), ", ".join(sorted({k for k, _ in by}))))
sys.exit(1 if errs else 0)
