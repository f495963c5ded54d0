"""Serves optuna-dashboard on a study storage; the checks that let a bad storage, host or port fail in one line."""

from __future__ import annotations

import errno
import ipaddress
import socket

from optuna.storages import BaseStorage

from attnlab.errors import ConfigError


def require_tcp_port(port: int) -> None:
    if not 1 <= port <= 65535:
        raise ConfigError(f"--port: {port} is not a TCP port; use 1-65535 (e.g. 8080)")


def check_host(host: str) -> None:
    """Raises ConfigError when this machine cannot listen on ``host`` (any free port tried)."""
    check_port_free(host, 0)


def check_port_free(host: str, port: int) -> None:
    """Raises ConfigError when ``host:port`` cannot be bound (in use, or not an address of this machine)."""
    try:
        with socket.create_server((host, port)):
            pass
    except OSError as error:
        if error.errno == errno.EADDRINUSE:
            raise ConfigError(
                f"--port {port}: already in use on {host}; pick another, e.g. --port {port + 1}"
            ) from error
        raise ConfigError(f"--host {host}: cannot listen there ({error.strerror}); use 127.0.0.1") from error


def is_loopback(host: str) -> bool:
    if host == "localhost":
        return True
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False


def serve_dashboard(storage: BaseStorage, url: str, host: str, port: int) -> None:
    """Blocks serving the dashboard on ``storage`` (opened from ``url``, already checked) until interrupted.

    The artifact folder beside the storage (where ``attnlab report`` puts figures and HTML) is served with it.
    """
    import optuna_dashboard

    from attnlab.reports.dashboard_publish import artifact_store

    check_port_free(host, port)
    print(f"optuna-dashboard on {url}: http://{host}:{port}/dashboard/ (Ctrl-C stops it)", flush=True)
    if not is_loopback(host):
        print(f"warning: {host} is not a loopback address; the dashboard is reachable from other machines", flush=True)
    optuna_dashboard.run_server(storage, host=host, port=port, artifact_store=artifact_store(url))
