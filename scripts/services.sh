#!/usr/bin/env bash
# Idempotently ensures the local services NPO Forge needs are up: Postgres (127.0.0.1:5432), Redis
# (127.0.0.1:6379) and an s3rver S3-protocol server (127.0.0.1:4569, data in .data/s3). Prints what it did.
set -euo pipefail
cd "$(dirname "$0")/.."
ROOT=$(pwd)
DATA_DIR=${DATA_DIR:-$ROOT/.data}
S3_PORT=${S3RVER_PORT:-4569}
mkdir -p "$DATA_DIR"

is_root() { [ "$(id -u)" = 0 ]; }
port_open() { (exec 3<>"/dev/tcp/127.0.0.1/$1") 2>/dev/null; }
wait_port() { for _ in $(seq 1 50); do port_open "$1" && return 0; sleep 0.2; done; return 1; }

# --- Postgres ---
if port_open 5432; then
  echo "postgres: already running on 127.0.0.1:5432"
else
  if ! command -v pg_ctlcluster >/dev/null 2>&1 && ! ls /etc/postgresql >/dev/null 2>&1; then
    if is_root && command -v apt-get >/dev/null; then
      echo "postgres: not installed, installing with apt-get"
      DEBIAN_FRONTEND=noninteractive apt-get install -y postgresql >/dev/null
    else
      echo "postgres: not installed. Install it, e.g.: sudo apt-get install -y postgresql" >&2
      exit 1
    fi
  fi
  ver=$(ls /etc/postgresql | sort -V | tail -1)
  echo "postgres: starting cluster $ver/main"
  pg_ctlcluster --skip-systemctl-redirect "$ver" main start
  wait_port 5432 || { echo "postgres: did not come up on 5432" >&2; exit 1; }
fi
# local development trusts the postgres user over TCP; a password in DATABASE_URL works as well
if ! psql "postgresql://postgres@127.0.0.1:5432/postgres" -Atc 'select 1' >/dev/null 2>&1; then
  echo "postgres: cannot connect as postgres@127.0.0.1 without a password; set DATABASE_URL with credentials" >&2
fi

# --- Redis ---
if port_open 6379; then
  echo "redis: already running on 127.0.0.1:6379"
else
  if ! command -v redis-server >/dev/null 2>&1; then
    if is_root && command -v apt-get >/dev/null; then
      echo "redis: not installed, installing with apt-get"
      DEBIAN_FRONTEND=noninteractive apt-get install -y redis-server >/dev/null
    else
      echo "redis: not installed. Install it, e.g.: sudo apt-get install -y redis-server" >&2
      exit 1
    fi
  fi
  echo "redis: starting redis-server"
  redis-server --daemonize yes --bind 127.0.0.1 --port 6379 --dir "$DATA_DIR" --logfile "$DATA_DIR/redis.log" \
    --pidfile "$DATA_DIR/redis.pid" --save "" --appendonly yes
  wait_port 6379 || { echo "redis: did not come up on 6379" >&2; exit 1; }
fi

# --- s3rver ---
PIDFILE="$DATA_DIR/s3rver.pid"
if port_open "$S3_PORT"; then
  echo "s3rver: already listening on 127.0.0.1:$S3_PORT"
else
  mkdir -p "$DATA_DIR/s3"
  echo "s3rver: starting on 127.0.0.1:$S3_PORT (data in $DATA_DIR/s3, log $DATA_DIR/s3rver.log)"
  nohup node packages/platform/bin/s3rver.mjs "$DATA_DIR/s3" "$S3_PORT" "${S3_BUCKET:-npo-forge}" >"$DATA_DIR/s3rver.log" 2>&1 &
  echo $! >"$PIDFILE"
  wait_port "$S3_PORT" || { echo "s3rver: did not come up; see $DATA_DIR/s3rver.log" >&2; exit 1; }
fi
echo "services: ready"
