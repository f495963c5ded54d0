"""Serves optuna-dashboard on a study storage, checked first so a bad storage or a taken port fails in one line."""

from __future__ import annotations

import errno
import ipaddress
import socket

from attnlab.errors import ConfigError
from attnlab.reports.sources.optuna_trials import existing_storage


def check_port_free(host: str, port: int) -> None:
    """Raises ConfigError when ``host:port`` cannot be bound (in use, or not an address of this machine)."""
    if not 1 <= port <= 65535:
        raise ConfigError(f"--port: {port} is not a TCP port; use 1-65535 (e.g. 8080)")
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


def serve_dashboard(url: str, host: str, port: int) -> None:
    """Blocks serving the dashboard until interrupted; prints the address first."""
    import optuna_dashboard

    storage = existing_storage(url)
    check_port_free(host, port)
    print(f"optuna-dashboard on {url}: http://{host}:{port}/dashboard/ (Ctrl-C stops it)", flush=True)
    if not is_loopback(host):
        print(f"warning: {host} is not a loopback address; the dashboard is reachable from other machines", flush=True)
    optuna_dashboard.run_server(storage, host=host, port=port)
