#!/usr/bin/env bash
# Rehearses a point-in-time restore (PITR) end to end on a scratch PostgreSQL cluster: WAL
# archiving on, a base backup, writes before and after a chosen moment, then a restore of
# the base backup replayed up to that moment into a new cluster, checked row by row.
# This is what pgBackRest or WAL-G do in production (docs/deploy.md, "Backups"); here with
# the plain PostgreSQL tools, so it runs anywhere: `bash scripts/rehearse-restore.sh`.
# PG_BIN picks the binaries (default: the embedded pgserver's, else the system's).
set -euo pipefail

find_bin() {
  if [ -n "${PG_BIN:-}" ]; then echo "$PG_BIN"; return; fi
  local py="${PYTHON:-.venv/bin/python}"
  if [ -x "$py" ] && "$py" -c 'import pgserver' 2>/dev/null; then
    "$py" -c 'import pgserver, pathlib; print(pathlib.Path(pgserver.__file__).parent / "pginstall" / "bin")' 2>/dev/null
    return
  fi
  ls -d /usr/lib/postgresql/*/bin 2>/dev/null | sort -V | tail -1
}
BIN=$(find_bin)
[ -x "$BIN/initdb" ] || { echo "No PostgreSQL binaries found (set PG_BIN)." >&2; exit 1; }

WORK=$(mktemp -d /tmp/portwise-pitr.XXXXXX)
chmod 755 "$WORK"
RUN=()
if [ "$(id -u)" = 0 ]; then  # postgres refuses root: run it as the embedded servers' user
  id pgserver >/dev/null 2>&1 || useradd --system --no-create-home --user-group pgserver
  chown pgserver: "$WORK"
  RUN=(runuser -u pgserver --)
  if [ ! -r "$BIN/postgres" ] || ! runuser -u pgserver -- test -x "$BIN/postgres"; then
    # A private folder: copy the binaries out with the wheel's layout, so they still find
    # their bundled libraries (RPATH $ORIGIN/../../../pgserver.libs).
    pkg=$(dirname "$(dirname "$BIN")")
    mkdir -p "$WORK/site/pgserver"
    cp -a "$pkg/pginstall" "$WORK/site/pgserver/pginstall"
    [ -d "$pkg/../pgserver.libs" ] && cp -a "$pkg/../pgserver.libs" "$WORK/site/"
    BIN="$WORK/site/pgserver/pginstall/bin"
  fi
fi
pg() { "${RUN[@]}" "$@"; }
PRIMARY=$WORK/primary RESTORED=$WORK/restored ARCHIVE=$WORK/archive BASE=$WORK/base
cleanup() {
  pg "$BIN/pg_ctl" -D "$PRIMARY" -m immediate stop >/dev/null 2>&1 || true
  pg "$BIN/pg_ctl" -D "$RESTORED" -m immediate stop >/dev/null 2>&1 || true
  rm -rf "$WORK"
}
trap cleanup EXIT
pg mkdir -p "$ARCHIVE"
psql_at() { pg "$BIN/psql" -h "$WORK" -p "$1" -U postgres -d postgres -tAqX -c "$2"; }

pg "$BIN/initdb" -D "$PRIMARY" -U postgres --auth=trust -E UTF8 --locale=C >/dev/null
cat >> "$PRIMARY/postgresql.conf" <<CONF
listen_addresses = ''
unix_socket_directories = '$WORK'
port = 54391
wal_level = replica
archive_mode = on
archive_command = 'test ! -f $ARCHIVE/%f && cp %p $ARCHIVE/%f'
CONF
pg "$BIN/pg_ctl" -D "$PRIMARY" -l "$WORK/primary.log" -w start >/dev/null
psql_at 54391 "CREATE TABLE filings (id serial PRIMARY KEY, phase text, at timestamptz DEFAULT clock_timestamp())"
psql_at 54391 "INSERT INTO filings (phase) SELECT 'before backup' FROM generate_series(1, 1000)"

pg "$BIN/pg_basebackup" -h "$WORK" -p 54391 -U postgres -D "$BASE" -X stream -c fast
psql_at 54391 "INSERT INTO filings (phase) SELECT 'after backup' FROM generate_series(1, 1000)"
sleep 1
TARGET=$(psql_at 54391 "SELECT clock_timestamp()")
sleep 1
psql_at 54391 "INSERT INTO filings (phase) SELECT 'after target' FROM generate_series(1, 1000)"
psql_at 54391 "SELECT pg_switch_wal()" >/dev/null
psql_at 54391 "CHECKPOINT"
sleep 2  # the archiver copies the last segment
pg "$BIN/pg_ctl" -D "$PRIMARY" -m fast -w stop >/dev/null

pg cp -a "$BASE" "$RESTORED"
cat >> "$RESTORED/postgresql.conf" <<CONF
port = 54392
restore_command = 'cp $ARCHIVE/%f %p'
recovery_target_time = '$TARGET'
recovery_target_action = 'promote'
archive_mode = off
CONF
pg touch "$RESTORED/recovery.signal"
pg "$BIN/pg_ctl" -D "$RESTORED" -l "$WORK/restored.log" -w -t 60 start >/dev/null
for _ in $(seq 60); do
  [ "$(psql_at 54392 'SELECT pg_is_in_recovery()')" = f ] && break
  sleep 0.5
done
GOT=$(psql_at 54392 "SELECT phase || '=' || count(*) FROM filings GROUP BY phase ORDER BY phase" | paste -sd' ')
EXPECTED="after backup=1000 before backup=1000"
if [ "$GOT" != "$EXPECTED" ]; then
  echo "PITR rehearsal FAILED: restored to $TARGET, found [$GOT], expected [$EXPECTED]" >&2
  tail -5 "$WORK/restored.log" >&2
  exit 1
fi
echo "PITR rehearsal passed: base backup + WAL replayed to $TARGET; restored [$GOT]; the 1000 rows written after the target are absent."
