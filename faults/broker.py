"""A private RabbitMQ node for the fault suite: its own name, ports and data directory.

The suite may stop, kill and restart it freely; it never touches the main broker on 5672.
Debian's `rabbitmq-server` / `rabbitmqctl` wrappers run the node as the `rabbitmq` user (when
called as root), so the node's directories are handed to that user.
"""

import os
import pwd
import shutil
import signal
import socket
import subprocess
import time

NODE = "metrika-faults@localhost"


class BrokerError(RuntimeError):
    pass


class PrivateBroker:
    def __init__(self, base, amqp_port=5682, tls_port=5685, dist_port=25682, tls_files=None):
        self.base = base
        self.amqp_port = amqp_port
        self.tls_port = tls_port
        self.dist_port = dist_port
        self.tls_files = tls_files  # dict(ca=, cert=, key=) or None
        self.node = NODE
        self.dir = os.path.join(base, "broker")
        self.mnesia = os.path.join(self.dir, "mnesia")
        self.logs = os.path.join(self.dir, "log")
        self.pid_file = os.path.join(self.dir, "broker.pid")
        self.conf = os.path.join(self.dir, "rabbitmq.conf")
        self.plugins = os.path.join(self.dir, "enabled_plugins")

    # -- lifecycle -------------------------------------------------------------------------

    def env(self):
        env = dict(os.environ)
        env.update({
            "RABBITMQ_NODENAME": self.node,
            "RABBITMQ_NODE_PORT": str(self.amqp_port),
            "RABBITMQ_DIST_PORT": str(self.dist_port),
            "RABBITMQ_MNESIA_BASE": self.mnesia,
            "RABBITMQ_LOG_BASE": self.logs,
            "RABBITMQ_ENABLED_PLUGINS_FILE": self.plugins,
            "RABBITMQ_CONFIG_FILE": self.conf,
            "RABBITMQ_PID_FILE": self.pid_file,
        })
        return env

    def prepare(self):
        os.makedirs(self.mnesia, exist_ok=True)
        os.makedirs(self.logs, exist_ok=True)
        with open(self.plugins, "w") as f:
            f.write("[].\n")
        lines = [
            f"listeners.tcp.default = 127.0.0.1:{self.amqp_port}",
            "loopback_users = none",
            # Keep the node light on a 2-core machine.
            "collect_statistics_interval = 10000",
            # Disk alarm off: the suite's temp dir may live on a nearly full disk.
            "disk_free_limit.absolute = 1",
        ]
        if self.tls_files:
            lines += [
                f"listeners.ssl.default = 127.0.0.1:{self.tls_port}",
                f"ssl_options.cacertfile = {self.tls_files['ca']}",
                f"ssl_options.certfile = {self.tls_files['cert']}",
                f"ssl_options.keyfile = {self.tls_files['key']}",
                "ssl_options.verify = verify_none",
                "ssl_options.fail_if_no_peer_cert = false",
            ]
        with open(self.conf, "w") as f:
            f.write("\n".join(lines) + "\n")
        if os.geteuid() == 0:
            try:
                user = pwd.getpwnam("rabbitmq")
            except KeyError:
                user = None
            if user:
                for root, dirs, files in os.walk(self.dir):
                    os.chown(root, user.pw_uid, user.pw_gid)
                    for name in files:
                        os.chown(os.path.join(root, name), user.pw_uid, user.pw_gid)
                os.chown(self.base, user.pw_uid, user.pw_gid)
                os.chmod(self.base, 0o755)
                if self.tls_files:
                    for path in self.tls_files.values():
                        os.chown(path, user.pw_uid, user.pw_gid)

    def start(self, timeout=90):
        if self.port_open(self.amqp_port):
            # A node of an earlier, interrupted run: stop it (it is ours by name), never anything else.
            self.ctl("stop", check=False, timeout=60)
            deadline = time.time() + 30
            while self.port_open(self.amqp_port) and time.time() < deadline:
                time.sleep(0.5)
        if self.port_open(self.amqp_port):
            raise BrokerError(f"port {self.amqp_port} is already in use by something else")
        subprocess.run(["rabbitmq-server", "-detached"], env=self.env(), check=False,
                       stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, cwd="/")
        self.await_up(timeout)

    def await_up(self, timeout=90):
        deadline = time.time() + timeout
        while time.time() < deadline:
            if self.port_open(self.amqp_port):
                r = self.ctl("await_startup", "--timeout", "60", check=False, timeout=70)
                if r.returncode == 0:
                    return
            time.sleep(0.5)
        raise BrokerError(f"private RabbitMQ node did not start within {timeout}s; see {self.logs}")

    def stop(self):
        if self.pid() is None and not self.port_open(self.amqp_port):
            return
        self.ctl("stop", check=False, timeout=60)
        pid = self.pid()
        deadline = time.time() + 30
        while pid and _alive(pid) and time.time() < deadline:
            time.sleep(0.2)
        if pid and _alive(pid):
            os.kill(pid, signal.SIGKILL)

    def stop_app(self):
        self.ctl("stop_app", timeout=120)

    def start_app(self):
        self.ctl("start_app", timeout=120)
        self.await_up()

    def crash(self):
        """kill -9 of the broker's Erlang VM."""
        pid = self.pid()
        if not pid:
            raise BrokerError("no broker pid to kill")
        os.kill(pid, signal.SIGKILL)
        deadline = time.time() + 10
        while _alive(pid) and time.time() < deadline:
            time.sleep(0.05)
        # epmd may still list the node for a moment.
        deadline = time.time() + 10
        while self.port_open(self.amqp_port) and time.time() < deadline:
            time.sleep(0.1)

    def pid(self):
        try:
            with open(self.pid_file) as f:
                text = f.read().strip()
            return int(text) if text else None
        except (OSError, ValueError):
            return None

    # -- control ---------------------------------------------------------------------------

    def ctl(self, *args, check=True, timeout=60):
        r = subprocess.run(["rabbitmqctl", "-n", self.node, *args], env=self.env(), capture_output=True,
                           text=True, timeout=timeout, cwd="/")
        if check and r.returncode != 0:
            raise BrokerError(f"rabbitmqctl {' '.join(args)} failed: {r.stderr.strip() or r.stdout.strip()}")
        return r

    def eval(self, expression, timeout=600):
        r = self.ctl("eval", expression, timeout=timeout)
        return r.stdout.strip()

    def add_vhost(self, vhost):
        self.ctl("add_vhost", vhost)
        self.ctl("set_permissions", "-p", vhost, "guest", ".*", ".*", ".*")

    def delete_vhost(self, vhost):
        self.ctl("delete_vhost", vhost, check=False, timeout=120)

    def add_user(self, user, password):
        self.ctl("add_user", user, password, check=False)
        self.ctl("change_password", user, password)

    def set_permissions(self, vhost, user, configure, write, read):
        self.ctl("set_permissions", "-p", vhost, user, configure, write, read)

    def queue_depths(self, vhost):
        """{queue: (ready, unacked)} from rabbitmqctl."""
        r = self.ctl("list_queues", "-p", vhost, "name", "messages_ready", "messages_unacknowledged",
                     "--no-table-headers", "--quiet", check=False, timeout=60)
        out = {}
        for line in r.stdout.splitlines():
            parts = line.split("\t")
            if len(parts) == 3 and parts[1].isdigit():
                out[parts[0]] = (int(parts[1]), int(parts[2]))
        return out

    def connections(self, vhost=None):
        """[(pid, connection_name, vhost)] of client connections."""
        r = self.eval(
            "lists:flatten([ begin I = rabbit_networking:connection_info(P, [client_properties, vhost]), "
            "CP = proplists:get_value(client_properties, I, []), "
            "N = case lists:keyfind(<<\"connection_name\">>, 1, CP) of {_, _, V} -> V; _ -> <<>> end, "
            "io_lib:format(\"~s|~s~n\", [N, proplists:get_value(vhost, I, <<>>)]) end "
            "|| P <- rabbit_networking:connections() ]).")
        # rabbitmqctl prints the string as an Erlang term: "name|vhost\nname|vhost\n"
        text = r.strip().strip('"').replace("\\n", "\n")
        out = []
        for line in text.splitlines():
            if "|" in line:
                name, vh = line.split("|", 1)
                if vhost is None or vh == vhost:
                    out.append((name, vh))
        return out

    def close_connections_loop(self, vhost, names, rounds, pause_ms=(0, 30), min_age_ms=200, timeout=900):
        """Inside the broker: `rounds` times, waits for each named connection of `vhost` to be up
        (running for at least `min_age_ms`, so that the gateway finished setting it up), then closes it
        exactly as `rabbitmqctl close_connection` does. Returns (closed, missed)."""
        names_erl = "[" + ",".join(f"<<\"{n}\">>" for n in names) + "]"
        lo, hi = pause_ms
        expr = f"""
        VHost = <<"{vhost}">>,
        Find = fun(Name) ->
            [P || P <- rabbit_networking:connections(),
                  (catch begin
                      I = rabbit_networking:connection_info(P, [client_properties, vhost, state, connected_at]),
                      CP = proplists:get_value(client_properties, I, []),
                      proplists:get_value(vhost, I) =:= VHost andalso
                      proplists:get_value(state, I) =:= running andalso
                      erlang:system_time(millisecond) - proplists:get_value(connected_at, I) >= {min_age_ms} andalso
                      lists:keyfind(<<"connection_name">>, 1, CP) =:= {{<<"connection_name">>, longstr, Name}}
                   end) =:= true]
        end,
        Wait = fun W(Name, 0) -> {{none, Name}};
                   W(Name, N) -> case Find(Name) of [P | _] -> P; [] -> timer:sleep(10), W(Name, N - 1) end end,
        Loop = fun L(0, Closed, Missed) -> {{Closed, Missed}};
                   L(R, Closed, Missed) ->
                     timer:sleep({lo} + rand:uniform({max(1, hi - lo)})),
                     Pids = [Wait(Nm, 3000) || Nm <- {names_erl}],
                     Ok = [P || P <- Pids, is_pid(P)],
                     [rabbit_networking:close_connection(P, "fault suite: close_connection") || P <- Ok],
                     L(R - 1, Closed + length(Ok), Missed + length(Pids) - length(Ok))
                 end,
        {{C, M}} = Loop({rounds}, 0, 0),
        lists:flatten(io_lib:format("~p ~p", [C, M])).
        """
        out = self.eval(" ".join(expr.split()), timeout=timeout)
        nums = [int(x) for x in out.strip('"').split() if x.isdigit()]
        return (nums[0], nums[1]) if len(nums) == 2 else (0, rounds * len(names))

    @staticmethod
    def port_open(port):
        s = socket.socket()
        s.settimeout(0.5)
        try:
            s.connect(("127.0.0.1", port))
            return True
        except OSError:
            return False
        finally:
            s.close()

    def cleanup(self):
        try:
            self.stop()
        finally:
            pid = self.pid()
            if pid and _alive(pid):
                os.kill(pid, signal.SIGKILL)


def _alive(pid):
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    # A zombie is not alive.
    try:
        with open(f"/proc/{pid}/stat") as f:
            return f.read().split(") ", 1)[1][0] != "Z"
    except OSError:
        return False


def rabbitmq_available():
    return shutil.which("rabbitmq-server") is not None and shutil.which("rabbitmqctl") is not None
