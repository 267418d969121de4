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
VARNISHD = "/usr/sbin/varnishd"
NGINX = "/usr/sbin/nginx"


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
        # Extra `-p name=value` runtime parameters.
        self.params = list(params)
        self.purgers = list(purgers)
        self.work = Path(tempfile.mkdtemp(prefix="badge-varnish-"))
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
        except TimeoutError:
            self.stop()
            raise

    def _answers(self, path: str) -> object:
        def check() -> bool:
            if self.process is not None and self.process.poll() is not None:
                errors = self.process.stderr.read().decode() if self.process.stderr else ""
                raise RuntimeError(f"varnishd exited: {errors[-2000:]}")
            return get(self.base + path, timeout=2)[0] == 200

        return check

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


class Nginx:
    """nginx serving one file as it is: the static-file baseline of the bench."""

    def __init__(self, body: bytes, content_type: str, *, prefix: Sequence[str] = ()) -> None:
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
        self.process: subprocess.Popen[bytes] | None = None

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}/badge"

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
            "    server {\n"
            f"        listen 127.0.0.1:{self.port};\n"
            f"        root {self.work}/www;\n"
            f"        location = /badge {{ {self._type_directives()} }}\n"
            "    }\n"
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
        return directives

    def stop(self) -> None:
        if self.process is not None:
            end(self.process)
            self.process = None
        shutil.rmtree(self.work, ignore_errors=True)
