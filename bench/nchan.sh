# shellcheck shell=bash
# nginx + nchan (Debian's nginx and libnginx-mod-nchan) as a contender in the
# benchmarks: a generated config in a scratch folder, nginx run in the
# foreground as our own process (never the system service), stopped by pid.
# Source it after scripts/lib.sh and bench/lib.sh; do not run it.

NCHAN_MODULE=${NCHAN_MODULE:-/usr/lib/nginx/modules/ngx_nchan_module.so}

# nchan_start DIR PORT WORKERS [REDIS_URL]: nginx with nchan on 127.0.0.1:PORT
# with WORKERS worker processes, publishing on POST /pub and serving
# EventSource subscribers on GET /sub, both on the channel "lobby". With
# REDIS_URL (redis://127.0.0.1:PORT, a standalone server or any node of a
# cluster, which nchan then discovers) the messages go through Redis,
# otherwise they stay in nginx's shared memory. Like chatd, a new subscriber
# starts with the next message; a channel keeps its last 1,000 messages for
# an hour (chatd keeps its whole stream). Sets NCHAN_PID (the master) and adds
# it to STARTED_PIDS; waits until the port answers.
nchan_start() {
    local dir=$1 port=$2 workers=$3 redis=${4:-} upstream='' pass=''
    mkdir -p "$dir"
    if [[ -n $redis ]]; then
        upstream="upstream nchan_redis { nchan_redis_server $redis; }"
        pass='nchan_redis_pass nchan_redis;'
    fi
    cat >"$dir/nginx.conf" <<EOF
load_module $NCHAN_MODULE;
worker_processes $workers;
worker_rlimit_nofile $(ulimit -Hn);
daemon off;
master_process on;
pid $dir/nginx.pid;
error_log $dir/error.log warn;
events { worker_connections 16000; }
http {
    access_log off;
    client_body_temp_path $dir/body;
    proxy_temp_path $dir/proxy;
    fastcgi_temp_path $dir/fastcgi;
    uwsgi_temp_path $dir/uwsgi;
    scgi_temp_path $dir/scgi;
    $upstream
    server {
        listen 127.0.0.1:$port;
        location = /pub {
            nchan_publisher;
            nchan_channel_id lobby;
            nchan_message_buffer_length 1000;
            nchan_message_timeout 1h;
            $pass
        }
        location = /sub {
            nchan_subscriber eventsource;
            nchan_channel_id lobby;
            nchan_subscriber_first_message newest;
            $pass
        }
        location = /health { return 200 "ok\n"; }
    }
}
EOF
    nginx -p "$dir" -c "$dir/nginx.conf" -e "$dir/error.log" >"$dir/stderr.log" 2>&1 &
    NCHAN_PID=$!
    STARTED_PIDS+=("$NCHAN_PID")
    if ! wait_until 15 curl -sf "http://127.0.0.1:$port/health"; then
        tail -n 20 "$dir/error.log" "$dir/stderr.log" >&2
        return 1
    fi
    # A publish reaches Redis (or the cluster) only once nchan connected to it.
    if [[ -n $redis ]] && ! wait_until 30 nchan_publish_ok "$port"; then
        tail -n 20 "$dir/error.log" >&2
        return 1
    fi
}

# nchan_publish_ok PORT: one warm-up message is accepted (201 or 202).
nchan_publish_ok() {
    local status
    status=$(curl -s -o /dev/null -w '%{http_code}' -X POST "http://127.0.0.1:$1/pub" \
        -H 'Content-Type: application/json' -d '{"text":"warm-up"}')
    [[ $status == 201 || $status == 202 ]]
}

# nchan_pids MASTER: the master and its workers.
nchan_pids() {
    echo "$1"
    pgrep -P "$1" || true
}
