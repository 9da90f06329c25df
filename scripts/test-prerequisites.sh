#!/usr/bin/env bash
# What the test suite needs besides .venv, made ready (run by `make test`, hence by `.ci/run`):
#   PostgreSQL on 127.0.0.1:5432 (user postgres, database "test"; or STROKEALERT_TEST_POSTGRES_URL),
#   Redis on 127.0.0.1:6379, DCMTK (storescu), Orthanc (/usr/sbin/Orthanc), Chromium
#   (/usr/bin/chromium), tesseract (OCR check that key images carry no PHI). Starts what is installed but down; installs what is missing with
#   apt-get when run as root on Debian/Ubuntu; otherwise prints exactly what is missing and how
#   to get it, and exits 1. Never skips anything silently. Non-interactive (CI=true, no stdin).
set -euo pipefail

PG_HOST=127.0.0.1 PG_PORT=5432 REDIS_PORT=6379
missing=()      # Debian packages to install
problems=()     # what is still wrong at the end, one line each

can_apt() { [ "$(id -u)" -eq 0 ] && command -v apt-get >/dev/null; }

pg_up() { pg_isready -h "$PG_HOST" -p "$PG_PORT" -q 2>/dev/null; }
redis_up() {
  timeout 3 bash -c "exec 3<>/dev/tcp/$PG_HOST/$REDIS_PORT && printf 'PING\r\n' >&3 &&
                     head -c 5 <&3 | grep -q PONG" 2>/dev/null
}
# DCMTK's storescu, not pynetdicom's (an activated virtual environment puts its own first).
dcmtk_storescu() {
  local tool
  for tool in $(type -ap storescu); do
    # Read all of it first: grep -q stopping early would give storescu a SIGPIPE, which
    # pipefail turns into a failure.
    case "$("$tool" --version 2>&1 || true)" in *[Dd][Cc][Mm][Tt][Kk]*) return 0 ;; esac
  done
  return 1
}
psql_postgres() { psql -h "$PG_HOST" -p "$PG_PORT" -U postgres -d postgres -tAc "$1" 2>/dev/null; }

# 1. Packages: the tools the tests run, and the servers when they are not installed at all.
dcmtk_storescu || missing+=(dcmtk)
[ -x /usr/sbin/Orthanc ] || missing+=(orthanc)
[ -x /usr/bin/chromium ] || missing+=(chromium)
command -v tesseract >/dev/null || missing+=(tesseract-ocr)   # OCR of key images (no PHI)
installed_postgresql=false
if [ -z "${STROKEALERT_TEST_POSTGRES_URL:-}" ]; then
  command -v psql >/dev/null || missing+=(postgresql-client)
  if ! pg_up && ! command -v pg_ctlcluster >/dev/null; then
    missing+=(postgresql)
    installed_postgresql=true
  fi
fi
if ! redis_up && ! command -v redis-server >/dev/null; then missing+=(redis-server); fi

if [ ${#missing[@]} -gt 0 ]; then
  if can_apt; then
    echo "test prerequisites: installing ${missing[*]} with apt-get"
    export DEBIAN_FRONTEND=noninteractive
    apt-get update -qq
    apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
  else
    problems+=("not installed: ${missing[*]} (as root: apt-get install ${missing[*]})")
  fi
fi

# 2. Servers: start them when installed but down.
if [ -z "${STROKEALERT_TEST_POSTGRES_URL:-}" ] && ! pg_up && command -v pg_ctlcluster >/dev/null
then
  version="$(ls /etc/postgresql 2>/dev/null | sort -V | tail -n1)"
  if [ -n "$version" ]; then
    pg_ctlcluster --skip-systemctl-redirect "$version" main start || true
    for _ in $(seq 30); do pg_up && break; sleep 1; done
  fi
fi
if [ -z "${STROKEALERT_TEST_POSTGRES_URL:-}" ] && pg_up && ! psql_postgres "SELECT 1" >/dev/null &&
   [ "$installed_postgresql" = true ] && can_apt; then
  # The cluster installed just now asks for a password over TCP: trust loopback for user
  # postgres (only on a cluster this script created for the tests).
  hba="$(runuser -u postgres -- psql -tAc 'SHOW hba_file')"
  sed -i '1i host all postgres 127.0.0.1/32 trust\nhost all postgres ::1/128 trust' "$hba"
  runuser -u postgres -- psql -qc 'SELECT pg_reload_conf()' >/dev/null
  sleep 1
fi
if [ -z "${STROKEALERT_TEST_POSTGRES_URL:-}" ]; then
  if ! pg_up; then
    problems+=("PostgreSQL is not answering on $PG_HOST:$PG_PORT (start it, or set STROKEALERT_TEST_POSTGRES_URL)")
  elif ! psql_postgres "SELECT 1" >/dev/null; then
    problems+=("PostgreSQL on $PG_HOST:$PG_PORT refuses user postgres without a password (allow it in pg_hba.conf, or set STROKEALERT_TEST_POSTGRES_URL)")
  elif [ -z "$(psql_postgres "SELECT 1 FROM pg_database WHERE datname = 'test'")" ]; then
    createdb -h "$PG_HOST" -p "$PG_PORT" -U postgres test
  fi
fi
if ! redis_up && command -v redis-server >/dev/null; then
  mkdir -p /tmp/strokealert-redis
  redis-server --daemonize yes --bind 127.0.0.1 --port "$REDIS_PORT" --save "" \
    --appendonly no --dir /tmp/strokealert-redis --logfile /tmp/strokealert-redis/redis.log ||
    true
  for _ in $(seq 20); do redis_up && break; sleep 0.5; done
fi
redis_up || problems+=("Redis is not answering on $PG_HOST:$REDIS_PORT (apt-get install redis-server, then start it)")

# 3. The tools, checked once more after any install.
dcmtk_storescu || problems+=("DCMTK storescu not found (apt-get install dcmtk)")
[ -x /usr/sbin/Orthanc ] || problems+=("/usr/sbin/Orthanc not found (apt-get install orthanc)")
[ -x /usr/bin/chromium ] || problems+=("/usr/bin/chromium not found (apt-get install chromium)")

if [ ${#problems[@]} -gt 0 ]; then
  echo "make test: the test suite cannot run on this machine yet:" >&2
  printf '  - %s\n' "${problems[@]}" | awk '!seen[$0]++' >&2
  exit 1
fi
echo "test prerequisites: PostgreSQL, Redis, DCMTK, Orthanc and Chromium ready"
