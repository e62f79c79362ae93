#!/usr/bin/env bash
# The local stack for `make run` and `make test`: a project-local PostgreSQL
# cluster and a Temporal dev server, started only when DATABASE_URL or
# TEMPORAL_ADDRESS do not point at existing ones. Idempotent: what runs is
# reused. Writes the resulting settings to .dev/env for the Makefile.
#
#   scripts/dev-stack.sh up      start what is missing, write .dev/env
#   scripts/dev-stack.sh down    stop what this script started
#   scripts/dev-stack.sh status
set -euo pipefail

ROOT="$(cd "$(dirname "$0")/.." && pwd)"
DEV="$ROOT/.dev"
LOGS="$DEV/logs"
PGDATA="$DEV/pg"
# .dev/pg may link to a directory the postgres user can reach (see pg_up).
if [ -L "$PGDATA" ]; then PGDATA="$(readlink -f "$PGDATA")"; fi
PGPORT="${AIROUTER_DEV_PG_PORT:-54329}"
TEMPORAL_PORT="${AIROUTER_DEV_TEMPORAL_PORT:-7233}"
TEMPORAL_UI_PORT="${AIROUTER_DEV_TEMPORAL_UI_PORT:-8233}"
TEMPORAL_BIN="$ROOT/bin/temporal"

log() { printf 'dev-stack: %s\n' "$*" >&2; }
die() { printf 'dev-stack: error: %s\n' "$*" >&2; exit 1; }

# as_pg runs a PostgreSQL server binary as the postgres user when we are root
# (the server refuses to run as root).
as_pg() {
	if [ "$(id -u)" = 0 ]; then
		(cd / && runuser -u postgres -- "$@")
	else
		"$@"
	fi
}

pg_bin() {
	local name="$1" p
	for p in "$(command -v "$name" 2>/dev/null || true)" /usr/lib/postgresql/*/bin/"$name"; do
		if [ -n "$p" ] && [ -x "$p" ]; then echo "$p"; return 0; fi
	done
	return 1
}

pg_up() {
	if [ -n "${DATABASE_URL:-}" ]; then
		log "using DATABASE_URL (not starting a local PostgreSQL)"
		echo "DATABASE_URL=$DATABASE_URL" >>"$DEV/env.tmp"
		return
	fi
	local initdb pg_ctl pg_isready
	initdb="$(pg_bin initdb)" && pg_ctl="$(pg_bin pg_ctl)" || die "PostgreSQL server binaries (initdb, pg_ctl) not found. Install them, e.g. 'apt-get install postgresql-15' (Debian/Ubuntu) or 'brew install postgresql@15' (macOS), or set DATABASE_URL to an existing server."
	pg_isready="$(pg_bin pg_isready || true)"
	mkdir -p "$DEV" "$LOGS"
	if [ "$(id -u)" = 0 ]; then
		id postgres >/dev/null 2>&1 || die "running as root but there is no 'postgres' user to run the PostgreSQL server; create one or set DATABASE_URL"
		# The server user must reach the data directory and write its log.
		chmod o+x "$ROOT" "$DEV" 2>/dev/null || true
		chown postgres "$LOGS" 2>/dev/null || true
		if [ ! -e "$PGDATA" ] && ! runuser -u postgres -- test -x "$DEV"; then
			# A parent of the checkout is closed to the postgres user (e.g.
			# under /root): keep the cluster where it can live, linked
			# from .dev/pg.
			local alt="/var/tmp/airouter-pg-$(printf '%s' "$ROOT" | sha256sum | cut -c1-12)"
			log "the postgres user cannot reach $DEV; keeping the cluster in $alt (linked from .dev/pg)"
			mkdir -p "$alt"
			chown postgres "$alt"
			ln -sfn "$alt" "$PGDATA"
			PGDATA="$alt"
		fi
		if ! runuser -u postgres -- test -w "$LOGS"; then
			LOGS_PG="$PGDATA"
		fi
	fi
	if [ ! -s "$PGDATA/PG_VERSION" ]; then
		log "creating a PostgreSQL cluster in .dev/pg (port $PGPORT)"
		mkdir -p "$PGDATA"
		[ "$(id -u)" = 0 ] && chown postgres "$PGDATA"
		chmod 700 "$PGDATA"
		as_pg "$initdb" -D "$PGDATA" -U postgres --auth=trust --encoding=UTF8 --no-locale >"$LOGS/initdb.log" 2>&1 || die "initdb failed; see .dev/logs/initdb.log"
		cat >>"$PGDATA/postgresql.conf" <<CONF
listen_addresses = '127.0.0.1'
port = $PGPORT
unix_socket_directories = '$PGDATA'
max_connections = 300
fsync = off
synchronous_commit = off
full_page_writes = off
shared_buffers = 128MB
CONF
	fi
	if as_pg "$pg_ctl" -D "$PGDATA" status >/dev/null 2>&1; then
		log "PostgreSQL already running on port $PGPORT"
	else
		log "starting PostgreSQL on port $PGPORT (log: .dev/logs/postgres.log)"
		as_pg "$pg_ctl" -D "$PGDATA" -l "${LOGS_PG:-$LOGS}/postgres.log" -w -t 60 start >/dev/null || die "PostgreSQL did not start; see .dev/logs/postgres.log"
	fi
	local i
	for i in $(seq 1 60); do
		if [ -n "$pg_isready" ]; then
			"$pg_isready" -q -h 127.0.0.1 -p "$PGPORT" && break
		else
			(exec 3<>"/dev/tcp/127.0.0.1/$PGPORT") 2>/dev/null && break
		fi
		sleep 0.5
	done
	if command -v psql >/dev/null 2>&1; then
		psql -q -h 127.0.0.1 -p "$PGPORT" -U postgres -d postgres -tAc "SELECT 1 FROM pg_database WHERE datname='airouter'" | grep -q 1 ||
			psql -q -h 127.0.0.1 -p "$PGPORT" -U postgres -d postgres -c "CREATE DATABASE airouter" >/dev/null
	else
		as_pg "$(pg_bin createdb)" -h 127.0.0.1 -p "$PGPORT" -U postgres airouter 2>/dev/null || true
	fi
	echo "DATABASE_URL=postgres://postgres@127.0.0.1:$PGPORT/airouter?sslmode=disable" >>"$DEV/env.tmp"
}

temporal_healthy() {
	local addr="$1"
	[ -x "$TEMPORAL_BIN" ] || return 1
	"$TEMPORAL_BIN" operator cluster health --address "$addr" >/dev/null 2>&1
}

temporal_up() {
	if [ -n "${TEMPORAL_ADDRESS:-}" ]; then
		log "using TEMPORAL_ADDRESS=$TEMPORAL_ADDRESS (not starting a Temporal dev server)"
		echo "TEMPORAL_ADDRESS=$TEMPORAL_ADDRESS" >>"$DEV/env.tmp"
		return
	fi
	local addr="127.0.0.1:$TEMPORAL_PORT"
	[ -x "$TEMPORAL_BIN" ] || die "bin/temporal is missing; run 'make tools'"
	mkdir -p "$DEV/temporal" "$LOGS"
	if temporal_healthy "$addr"; then
		log "Temporal already running at $addr"
	else
		log "starting the Temporal dev server at $addr, UI at http://127.0.0.1:$TEMPORAL_UI_PORT (log: .dev/logs/temporal.log)"
		nohup "$TEMPORAL_BIN" server start-dev \
			--ip 127.0.0.1 --port "$TEMPORAL_PORT" --ui-port "$TEMPORAL_UI_PORT" \
			--db-filename "$DEV/temporal/temporal.db" --log-level warn \
			--namespace default >"$LOGS/temporal.log" 2>&1 </dev/null &
		echo $! >"$DEV/temporal.pid"
		local i
		for i in $(seq 1 120); do
			temporal_healthy "$addr" && break
			kill -0 "$(cat "$DEV/temporal.pid")" 2>/dev/null || die "the Temporal dev server exited; see .dev/logs/temporal.log"
			sleep 0.5
		done
		temporal_healthy "$addr" || die "the Temporal dev server did not become healthy in 60s; see .dev/logs/temporal.log"
	fi
	echo "TEMPORAL_ADDRESS=$addr" >>"$DEV/env.tmp"
	echo "TEMPORAL_UI_URL=http://127.0.0.1:$TEMPORAL_UI_PORT" >>"$DEV/env.tmp"
}

secrets_up() {
	# A local master key and admin token for development only.
	if [ ! -s "$DEV/master.key" ]; then
		head -c 32 /dev/urandom | base64 >"$DEV/master.key"
		chmod 600 "$DEV/master.key"
	fi
	if [ ! -s "$DEV/admin.token" ]; then
		printf 'adm_%s\n' "$(head -c 24 /dev/urandom | od -An -tx1 | tr -d ' \n')" >"$DEV/admin.token"
		chmod 600 "$DEV/admin.token"
	fi
}

case "${1:-up}" in
up)
	mkdir -p "$DEV" "$LOGS"
	: >"$DEV/env.tmp"
	secrets_up
	pg_up
	temporal_up
	mv "$DEV/env.tmp" "$DEV/env"
	;;
down)
	if [ -f "$DEV/temporal.pid" ]; then
		pid="$(cat "$DEV/temporal.pid")"
		if kill -0 "$pid" 2>/dev/null; then
			log "stopping Temporal (pid $pid)"
			kill "$pid" 2>/dev/null || true
			for _ in $(seq 1 40); do kill -0 "$pid" 2>/dev/null || break; sleep 0.25; done
			kill -9 "$pid" 2>/dev/null || true
		fi
		rm -f "$DEV/temporal.pid"
	fi
	if [ -s "$PGDATA/PG_VERSION" ] && pg_ctl="$(pg_bin pg_ctl)"; then
		if as_pg "$pg_ctl" -D "$PGDATA" status >/dev/null 2>&1; then
			log "stopping PostgreSQL"
			as_pg "$pg_ctl" -D "$PGDATA" -m fast -w stop >/dev/null
		fi
	fi
	if [ -f "$DEV/airouter.pid" ]; then
		kill "$(cat "$DEV/airouter.pid")" 2>/dev/null || true
		rm -f "$DEV/airouter.pid"
	fi
	;;
status)
	[ -f "$DEV/env" ] && cat "$DEV/env"
	;;
*)
	die "usage: $0 up|down|status"
	;;
esac
