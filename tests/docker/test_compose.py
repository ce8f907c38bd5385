#!/usr/bin/env python3
"""test_compose.py SRC_DIR - checks docker/ as far as this machine can without pulling images
(ctest docker/compose):

- docker-compose.yml parses (python3-yaml) and has the services the README promises: Redis with
  AOF on, Apache Kafka in KRaft mode, router, logic, job, two comets, Prometheus and Grafana;
- every file it names exists: the build context and Dockerfile, every bind-mounted file, and
  every COPY source of the Dockerfile;
- every HERALD_<SECTION>_<KEY> a herald service sets is a key of that daemon's example config
  (conf/<daemon>.ini), so the entrypoint renders it and a typo cannot pass unnoticed;
- prometheus.yml scrapes each daemon's metrics port as the compose file sets it, and Grafana's
  provisioning points at the compose Prometheus and at the directory the dashboard is mounted in;
- `docker compose config` accepts the file, when the docker CLI has its compose plugin (it is
  reported as not run otherwise).
"""
import os
import re
import shutil
import subprocess
import sys

import yaml

SRC = os.path.abspath(sys.argv[1])
DOCKER = os.path.join(SRC, "docker")
failures = []


def check(cond, what):
    if not cond:
        failures.append(what)


def load(path):
    with open(path) as f:
        return yaml.safe_load(f)


compose = load(os.path.join(DOCKER, "docker-compose.yml"))
services = compose["services"]


def env(name):
    return {k: str(v) for k, v in (services[name].get("environment") or {}).items()}


def command(name):
    return services[name].get("command") or []


# The services.
check(services["redis"]["image"].startswith("redis:"), "redis: not the redis image")
check("--appendonly" in command("redis") and
      command("redis")[command("redis").index("--appendonly") + 1] == "yes", "redis: AOF not on")
check(services["kafka"]["image"].startswith("apache/kafka:"), "kafka: not apache/kafka")
check("controller" in env("kafka").get("KAFKA_PROCESS_ROLES", ""), "kafka: not KRaft")
check("ZOOKEEPER" not in " ".join(env("kafka")), "kafka: names ZooKeeper")
daemon_of = {}
for name, svc in services.items():
    cmd = svc.get("command") or []
    if svc.get("image", "").startswith("herald:") and cmd and cmd[0] in (
            "comet", "logic", "router", "job"):
        daemon_of[name] = cmd[0]
kinds = sorted(daemon_of.values())
check(kinds.count("comet") == 2 and all(k in kinds for k in ("logic", "router", "job")),
      "herald services: want router, logic, job and two comets, have %s" % kinds)
check(services["prometheus"]["image"].startswith("prom/prometheus"), "prometheus image")
check(services["grafana"]["image"].startswith("grafana/grafana"), "grafana image")

# Every file named.
dockerfiles = set()
for name, svc in services.items():
    build = svc.get("build")
    if build:
        ctx = os.path.normpath(os.path.join(DOCKER, build["context"]))
        df = os.path.join(ctx, build.get("dockerfile", "Dockerfile"))
        check(os.path.isdir(ctx), "%s: build context %s missing" % (name, ctx))
        check(os.path.isfile(df), "%s: %s missing" % (name, df))
        dockerfiles.add((ctx, df))
    for vol in svc.get("volumes") or []:
        source = vol.split(":")[0]
        if source.startswith("."):
            path = os.path.normpath(os.path.join(DOCKER, source))
            check(os.path.exists(path), "%s: mounts %s, which does not exist" % (name, path))
        else:
            check(source in (compose.get("volumes") or {}),
                  "%s: volume %s not declared" % (name, source))
for ctx, df in dockerfiles:
    with open(df) as f:
        for line in f:
            words = line.split()
            if words[:1] == ["COPY"] and not any(w.startswith("--from") for w in words):
                for source in words[1:-1]:
                    if source != ".":
                        check(os.path.exists(os.path.join(ctx, source)),
                              "%s: COPY %s, which does not exist" % (df, source))
    check(os.path.isfile(df + ".dockerignore"), "%s.dockerignore missing" % df)

# Every HERALD_<SECTION>_<KEY> names a key of the daemon's example configuration.
special = {"HERALD_CLUSTER_SECRET"}  # a value, not a key of the files
for name, daemon in daemon_of.items():
    keys = set()
    section = None
    with open(os.path.join(SRC, "conf", daemon + ".ini")) as f:
        for line in f:
            m = re.match(r"^\[([a-z]+)\]\s*$", line)
            if m:
                section = m.group(1)
                continue
            m = re.match(r"^;?\s*([a-z_]+)\s*=", line)
            if m and section:
                keys.add(("HERALD_%s_%s" % (section, m.group(1))).upper())
    for var in env(name):
        if var.startswith("HERALD_") and var not in special:
            check(var in keys, "%s: %s is no key of conf/%s.ini" % (name, var, daemon))

# Prometheus scrapes every daemon's metrics port.
prom = load(os.path.join(DOCKER, "prometheus.yml"))
targets = set()
for sc in prom["scrape_configs"]:
    check(sc.get("params", {}).get("format") == ["prometheus"],
          "prometheus: %s does not ask for the text format" % sc["job_name"])
    for st in sc["static_configs"]:
        targets.update(st["targets"])
for name, daemon in daemon_of.items():
    var = "HERALD_HTTP_LISTEN" if daemon == "logic" else "HERALD_ADMIN_LISTEN"
    listen = env(name).get(var)
    check(listen is not None, "%s: no %s" % (name, var))
    if listen:
        want = "%s:%s" % (name, listen.rsplit(":", 1)[1])
        check(want in targets, "prometheus.yml does not scrape %s" % want)

# Grafana: the datasource is the compose Prometheus; the dashboard provider reads the directory
# the dashboard file is mounted in.
grafana = os.path.join(DOCKER, "grafana", "provisioning")
ds = load(os.path.join(grafana, "datasources", "prometheus.yml"))["datasources"][0]
check(ds["url"] == "http://prometheus:9090", "grafana datasource url %s" % ds["url"])
provider = load(os.path.join(grafana, "dashboards", "herald.yml"))["providers"][0]
mounts = [v.split(":")[1] for v in services["grafana"]["volumes"]]
dash = [m for m in mounts if m.endswith("herald-dashboard.json")]
check(len(dash) == 1 and os.path.dirname(dash[0]) == provider["options"]["path"],
      "grafana: herald-dashboard.json not mounted in the provider's path")

# docker compose config, where the CLI has the plugin.
docker = shutil.which("docker")
if docker and subprocess.run([docker, "compose", "version"], capture_output=True).returncode == 0:
    r = subprocess.run([docker, "compose", "-f", os.path.join(DOCKER, "docker-compose.yml"),
                        "config", "--quiet"], capture_output=True, text=True)
    check(r.returncode == 0, "docker compose config: %s" % r.stderr.strip())
    print("test_compose: docker compose config accepts the file")
else:
    print("test_compose: no docker compose plugin here: `docker compose config` NOT run")

for f in failures:
    print("test_compose: FAIL: " + f)
if failures:
    sys.exit(1)
print("test_compose: %d services, %d scrape targets, every named file present" %
      (len(services), len(targets)))
