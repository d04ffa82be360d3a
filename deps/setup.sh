#!/usr/bin/env bash
# Idempotent set-up: the Python environment (.venv) and the pinned Apache Kafka broker runtime
# resolved from Maven Central into .cache/. Fast when already done; says what is missing otherwise.
set -euo pipefail
cd "$(dirname "$0")/.."
root=$(pwd)

say() { printf 'setup: %s\n' "$*" >&2; }
die() { printf 'setup: ERROR: %s\n' "$*" >&2; exit 1; }

# --- prerequisites -----------------------------------------------------------------------------
py=${PYTHON:-}
if [ -z "$py" ]; then
  for cand in python3.11 python3.12 python3.13 python3; do
    if command -v "$cand" >/dev/null 2>&1 && "$cand" -c 'import sys; sys.exit(0 if sys.version_info >= (3, 11) else 1)'; then
      py=$cand; break
    fi
  done
fi
[ -n "$py" ] || die "Python 3.11 or newer is required (none found on PATH; set PYTHON=/path/to/python3.11)."

command -v java >/dev/null 2>&1 || die "Java 17 or newer is required for the local Kafka broker: install a JDK 17 (Debian: apt-get install openjdk-17-jdk-headless) or set CASEHUB_KAFKA_BOOTSTRAP to use an existing cluster."
jv=$(java -XshowSettings:properties -version 2>&1 | awk -F'= ' '/java.specification.version/ {print $2}')
[ "${jv%%.*}" -ge 17 ] 2>/dev/null || die "Java 17 or newer is required for Kafka 4.x; found Java ${jv:-unknown} ($(command -v java))."

# --- Python environment ------------------------------------------------------------------------
stamp=.venv/.casehub-installed
if [ ! -x .venv/bin/python ]; then
  say "creating .venv with $py"
  "$py" -m venv .venv
fi
if [ ! -f "$stamp" ] || [ pyproject.toml -nt "$stamp" ]; then
  say "installing casehub (editable, with test extras) into .venv"
  .venv/bin/python -m pip install --quiet --upgrade pip
  .venv/bin/python -m pip install --quiet -e ".[test]"
  touch "$stamp"
fi

# --- Kafka broker runtime from Maven Central ---------------------------------------------------
kv=$(sed -n 's:.*<kafka.version>\(.*\)</kafka.version>.*:\1:p' deps/kafka/pom.xml)
libs=.cache/kafka/$kv/libs
kstamp=.cache/kafka/$kv/.resolved
if [ ! -f "$kstamp" ] || [ deps/kafka/pom.xml -nt "$kstamp" ]; then
  command -v mvn >/dev/null 2>&1 || die "Maven (mvn) is required to resolve the Kafka $kv broker from Maven Central (Debian: apt-get install maven)."
  say "resolving Apache Kafka $kv and its runtime dependencies with Maven into $libs"
  rm -rf "$libs"
  mvn -q -B -f deps/kafka/pom.xml dependency:copy-dependencies \
      -DincludeScope=runtime -DoutputDirectory="$root/$libs" \
    || die "Maven could not resolve org.apache.kafka:kafka_2.13:$kv (is Maven Central reachable?)."
  ls "$libs"/kafka_2.13-"$kv".jar >/dev/null 2>&1 || die "kafka_2.13-$kv.jar missing after resolution."
  touch "$kstamp"
fi
# --- Apache Avro's Java reference implementation (tests only) -------------------------------------------------------
astamp=.cache/avro/.resolved
if [ ! -f "$astamp" ] || [ deps/avro/pom.xml -nt "$astamp" ]; then
  command -v mvn >/dev/null 2>&1 || die "Maven (mvn) is required to resolve Apache Avro for the tests."
  say "resolving Apache Avro (Java reference implementation) with Maven into .cache/avro/libs"
  rm -rf .cache/avro/libs
  mvn -q -B -f deps/avro/pom.xml dependency:copy-dependencies -DincludeScope=runtime -DoutputDirectory="$root/.cache/avro/libs" \
    || die "Maven could not resolve org.apache.avro:avro (is Maven Central reachable?)."
  touch "$astamp"
fi

# --- the Compose Specification JSON schema, for the test that validates docker/compose.yaml -----------------------
# (no Docker engine here; the schema ships inside the docker-compose 1.x wheel on PyPI)
if [ ! -f .cache/compose/compose_spec.json ]; then
  say "fetching the Compose Specification schema (docker-compose wheel from PyPI)"
  mkdir -p .cache/compose
  .venv/bin/python -m pip download --quiet --no-deps --dest .cache/compose docker-compose==1.29.2 \
    || die "could not download docker-compose==1.29.2 from PyPI (needed only for its compose_spec.json)"
  .venv/bin/python - <<'PY' || die "compose_spec.json not found in the docker-compose wheel"
import glob, zipfile
wheel = glob.glob(".cache/compose/docker_compose-*.whl")[0]
with zipfile.ZipFile(wheel) as z, open(".cache/compose/compose_spec.json", "wb") as out:
    out.write(z.read("compose/config/compose_spec.json"))
PY
fi
say "ready (python: .venv, kafka $kv: $libs)"
