"""Real edge processes for tests and the bench: Varnish (with our VCL) and nginx, on free ports.

Varnish runs deploy/varnish/default.vcl unchanged; only site.vcl (backends, director, purge
ACL) is written here, the way compose.yaml's deploy/varnish/site.vcl is written for compose.
"""

from __future__ import annotations

import os
import shutil
import subprocess
import tempfile
from collections.abc import Sequence
from pathlib import Path

from tests.servers import ROOT, end, free_port, get, wait_for

VCL_DIR = ROOT / "deploy" / "varnish"
PARAMS = VCL_DIR / "varnishd.params"
VARNISHD = "/usr/sbin/varnishd"
NGINX = "/usr/sbin/nginx"
# varnishd's workdir holds its shared-memory log, written on every request: on tmpfs, as
# compose.yaml has it, never on disk.
WORKDIR_ROOT = Path("/dev/shm")


def shipped_params() -> list[str]:
    """deploy/varnish/varnishd.params as `name=value` strings, the way compose passes them."""
    lines = (line.split("#", 1)[0].strip() for line in PARAMS.read_text().splitlines())
    return [line for line in lines if line]


def site_vcl(
    backends: Sequence[int],
    *,
    probe_interval: str = "0.5s",
    purgers: Sequence[str] = ("127.0.0.1", "::1"),
) -> str:
    """Loopback backends in a round-robin director named `app`, as default.vcl expects."""
    parts = [
        "probe ready {\n"
        '    .url = "/readyz";\n'
        f"    .interval = {probe_interval};\n"
        "    .timeout = 1s;\n"
        "    .window = 3;\n"
        "    .threshold = 2;\n"
        "    .initial = 2;\n"
        "}\n"
    ]
    for index, port in enumerate(backends):
        parts.append(
            f"backend i{index} {{\n"
            '    .host = "127.0.0.1";\n'
            f'    .port = "{port}";\n'
            "    .probe = ready;\n"
            "    .connect_timeout = 0.5s;\n"
            "    .first_byte_timeout = 10s;\n"
            "    .between_bytes_timeout = 5s;\n"
            "}\n"
        )
    adds = "".join(f"    app.add_backend(i{index});\n" for index in range(len(backends)))
    parts.append(f"sub vcl_init {{\n    new app = directors.round_robin();\n{adds}}}\n")
    allowed = "".join(f'    "{host}";\n' for host in purgers)
    parts.append(f"acl purgers {{\n{allowed}}}\n")
    return "".join(parts)


class Varnish:
    def __init__(
        self,
        backends: Sequence[int],
        *,
        port: int | None = None,
        prefix: Sequence[str] = (),
        storage: str = "malloc,64m",
        params: Sequence[str] = (),
        purgers: Sequence[str] = ("127.0.0.1", "::1"),
    ) -> None:
        if not os.path.exists(VARNISHD):
            raise RuntimeError("varnishd is missing; `make test` installs it (apt: varnish)")
        self.port = port or free_port()
        self.backends = list(backends)
        self.prefix = list(prefix)
        self.storage = storage
        # The shipped runtime parameters, then extra `-p name=value` ones (later ones win).
        self.params = [*shipped_params(), *params]
        self.purgers = list(purgers)
        self.work = Path(tempfile.mkdtemp(prefix="badge-varnish-", dir=WORKDIR_ROOT))
        self.process: subprocess.Popen[bytes] | None = None

    @property
    def base(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    @property
    def purge_url(self) -> str:
        return self.base + "/"

    def start(self, *, wait_path: str = "/healthz") -> None:
        (self.work / "site.vcl").write_text(site_vcl(self.backends, purgers=self.purgers))
        self.process = subprocess.Popen(
            [
                *self.prefix,
                VARNISHD,
                "-F",
                "-j",
                "none",
                "-n",
                str(self.work / "n"),
                "-a",
                f"127.0.0.1:{self.port}",
                "-T",
                "127.0.0.1:0",
                "-p",
                f"vcl_path={self.work}:{VCL_DIR}",
                "-f",
                str(VCL_DIR / "default.vcl"),
                "-s",
                self.storage,
                *(arg for param in self.params for arg in ("-p", param)),
            ],
            stdout=subprocess.DEVNULL,
            stderr=subprocess.PIPE,
        )
        try:
            wait_for(self._answers(wait_path), 30, "varnishd")
        except (TimeoutError, RuntimeError):
            # A VCL that does not compile ends varnishd too: its workdir goes with it.
            self.stop()
            raise

    def _answers(self, path: str) -> object:
        def check() -> bool:
            if self.process is not None and self.process.poll() is not None:
                errors = self.process.stderr.read().decode() if self.process.stderr else ""
                raise RuntimeError(f"varnishd exited: {errors[-2000:]}")
            return get(self.base + path, timeout=2)[0] == 200

        return check

    def counters(self, *names: str) -> dict[str, int]:
        """varnishstat's current values of counters such as `MAIN.n_gunzip`."""
        shown = subprocess.run(
            ["varnishstat", "-n", str(self.work / "n"), "-1", *(f"-f{n}" for n in names)],
            capture_output=True,
            text=True,
            check=True,
            timeout=10,
        ).stdout
        values = {line.split()[0]: int(line.split()[1]) for line in shown.splitlines() if line}
        return {name: values[name] for name in names}

    def restart(self) -> None:
        """varnishd stopped and started again on the same port: its cache starts empty."""
        self._end()
        self.start()

    def _end(self) -> None:
        if self.process is not None:
            end(self.process)
            if self.process.stderr is not None:
                self.process.stderr.close()
            self.process = None

    def stop(self) -> None:
        self._end()
        shutil.rmtree(self.work, ignore_errors=True)


# nginx's proxy_cache as an edge, keyed the way default.vcl keys: the URL, the Host, the
# Referer's host class and the one coding the service would pick (br, else gzip, else none).
# The key covers what the service varies on, so nginx ignores Vary; like Surrogate-Control
# for Varnish, the lifetime is the edge's own (an hour), not the browsers' max-age.
NGINX_CACHE = """
    proxy_cache_path {work}/cache levels=1:2 keys_zone=edge:10m max_size=256m inactive=1h
                     use_temp_path=off;
    map $http_accept_encoding $coding {{
        default "";
        "~*(^|,)\\s*br\\s*(,|$)" br;
        "~*(^|,)\\s*(x-)?gzip\\s*(,|$)" gzip;
    }}
    map $http_referer $referer_class {{
        default none;
        "~*^https?://(?<referer_host>[a-z0-9.-]+?)\\.?(:[0-9]*)?([/?#]|$)" $referer_host;
        "~." "raw:$http_referer";
    }}
    map $referer_class $referer_sent {{
        none "";
        "~^raw:" $http_referer;
        default "https://$referer_class/";
    }}
"""
NGINX_CACHE_LOCATION = """
        location / {{
            proxy_pass http://127.0.0.1:{backend};
            proxy_http_version 1.1;
            proxy_set_header Connection "";
            proxy_set_header Accept-Encoding $coding;
            proxy_set_header Referer $referer_sent;
            proxy_cache edge;
            proxy_cache_key "$request_uri|$host|$referer_class|$coding";
            proxy_ignore_headers Cache-Control Expires Vary;
            proxy_cache_valid 200 1h;
            proxy_cache_revalidate on;
            add_header X-Cache $upstream_cache_status;
            # What default.vcl keeps at the edge: the same response headers reach the client.
            proxy_hide_header xkey;
            proxy_hide_header Surrogate-Key;
            proxy_hide_header Cache-Tag;
            proxy_hide_header Surrogate-Control;
        }}
"""


class Nginx:
    """nginx serving one file as it is (the static-file ceiling of the bench) and, given a
    backend, a proxy_cache edge in front of it at every other path."""

    def __init__(
        self,
        body: bytes,
        content_type: str,
        *,
        prefix: Sequence[str] = (),
        content_encoding: str | None = None,
        cache_backend: int | None = None,
    ) -> None:
        if not os.path.exists(NGINX):
            raise RuntimeError("nginx is missing; `make bench` installs it (apt: nginx-light)")
        self.port = free_port()
        self.prefix = list(prefix)
        self.work = Path(tempfile.mkdtemp(prefix="badge-nginx-"))
        # The workers run as nobody; they must reach the file.
        self.work.chmod(0o755)
        (self.work / "www").mkdir(mode=0o755)
        (self.work / "www" / "badge").write_bytes(body)
        (self.work / "www" / "badge").chmod(0o644)
        self.content_type = content_type
        self.content_encoding = content_encoding
        self.cache_backend = cache_backend
        self.process: subprocess.Popen[bytes] | None = None

    @property
    def base(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    @property
    def url(self) -> str:
        return f"{self.base}/badge"

    def start(self) -> None:
        conf = self.work / "nginx.conf"
        conf.write_text(
            "daemon off;\n"
            "worker_processes 1;\n"
            f"pid {self.work}/nginx.pid;\n"
            f"error_log {self.work}/error.log warn;\n"
            "events { worker_connections 4096; }\n"
            "http {\n"
            "    access_log off;\n"
            "    sendfile on;\n"
            "    tcp_nopush on;\n"
            "    keepalive_requests 1000000;\n"
            f"    client_body_temp_path {self.work}/tmp;\n"
            f"    proxy_temp_path {self.work}/tmp;\n"
            f"    fastcgi_temp_path {self.work}/tmp;\n"
            f"    uwsgi_temp_path {self.work}/tmp;\n"
            f"    scgi_temp_path {self.work}/tmp;\n"
            + (NGINX_CACHE.format(work=self.work) if self.cache_backend else "")
            + "    server {\n"
            f"        listen 127.0.0.1:{self.port};\n"
            f"        root {self.work}/www;\n"
            f"        location = /badge {{ {self._type_directives()} }}\n"
            + (
                NGINX_CACHE_LOCATION.format(backend=self.cache_backend)
                if self.cache_backend
                else ""
            )
            + "    }\n"
            "}\n"
        )
        self.process = subprocess.Popen(
            [*self.prefix, NGINX, "-c", str(conf), "-e", str(self.work / "error.log")],
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
        )
        wait_for(self._answers, 20, "nginx")

    def _answers(self) -> bool:
        if self.process is not None and self.process.poll() is not None:
            log = self.work / "error.log"
            raise RuntimeError(f"nginx exited: {log.read_text()[-2000:] if log.exists() else ''}")
        return get(self.url)[0] == 200

    def _type_directives(self) -> str:
        """`image/svg+xml; charset=utf-8` as nginx spells it: a type, then a charset."""
        media, _, params = self.content_type.partition(";")
        charset = params.strip().removeprefix("charset=")
        directives = f"types {{ }} default_type {media.strip()};"
        if charset:
            directives += f" charset {charset}; charset_types {media.strip()};"
        if self.content_encoding:
            directives += f" add_header Content-Encoding {self.content_encoding};"
        return directives

    def stop(self) -> None:
        if self.process is not None:
            end(self.process)
            self.process = None
        shutil.rmtree(self.work, ignore_errors=True)
