"""Starting the workshop dashboard (``abm dashboard``): checks, warm-up, and Solara's server.

A facilitator starts the dashboard on a laptop with one command and opens the address it
prints. Before the server takes its first request this module makes sure the page will not
wait: Solara's front-end must be on the machine (:mod:`abm.solara_assets`, ``make
dashboard-assets``), and one run of the chosen scenario compiles nothing new, builds the
city and times the full city, so that the page starts at the full city where a run answers
within a second and at 1/20 otherwise. The server is Solara's own (uvicorn) in this
process, bound to the loopback unless told otherwise; Ctrl-C (or SIGTERM) stops it and
nothing is left running.
"""

from __future__ import annotations

import contextlib
import ipaddress
import os
import signal
import socket
import subprocess
import sys
import threading
import time
from collections.abc import Iterator
from pathlib import Path

from abm import dashboard, solara_assets

# a full-city run slower than this on the machine starts the page at workshop scale
FULL_CITY_SECONDS = 1.0
APP = "abm.app"


def is_loopback(host: str) -> bool:
    try:
        return ipaddress.ip_address(socket.gethostbyname(host)).is_loopback
    except (OSError, ValueError):
        return False


def room_address() -> str | None:
    """This machine's address on its network (the one a route out leaves from), for the
    people in the room when the page listens on every interface; None without a network."""
    try:
        with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as probe:
            probe.connect(("192.0.2.1", 9))  # a documentation address: a UDP connect sends nothing
            address = probe.getsockname()[0]
    except OSError:
        return None
    return None if ipaddress.ip_address(address).is_loopback else address


def warm_up(controls: dashboard.Controls) -> tuple[float, float]:
    """Run the page's first scenario once at full scale (compiling and building what a
    run needs) and once more, timed; the scale to start at and the timed run's seconds."""
    full = dashboard.Controls(controls.scenario, controls.values, controls.seed, dashboard.FULL_CITY)
    dashboard.run(full)
    started = time.perf_counter()
    dashboard.run.__wrapped__(full)  # not the run kept from the line before
    seconds = time.perf_counter() - started
    return (dashboard.FULL_CITY if seconds <= FULL_CITY_SECONDS else dashboard.WORKSHOP_SCALE), seconds


def serve(scenario: Path, scale: float | None, host: str, port: int) -> int:
    """Prepare and run the dashboard until interrupted; the exit code."""
    if not solara_assets.is_prepared():
        print(
            f"abm: error: the dashboard's front-end is not in {solara_assets.ASSETS_DIR}; "
            "run `make dashboard-assets` once (it needs the npm registry)",
            file=sys.stderr,
        )
        return 2
    os.environ.update(solara_assets.environment())
    os.environ[dashboard.SCENARIO_VARIABLE] = str(scenario)
    controls = dashboard.initial_controls()
    started = time.perf_counter()
    chosen, seconds = warm_up(controls)
    scale = chosen if scale is None else scale
    os.environ[dashboard.SCALE_VARIABLE] = str(scale)
    print(
        f"abm dashboard: a full-city run takes {seconds:.2f} s here; starting at "
        + ("the full city" if scale == dashboard.FULL_CITY else f"scale {scale:g}")
        + f" (ready in {time.perf_counter() - started:.0f} s)",
        file=sys.stderr,
    )
    import uvicorn

    os.environ.update({"SOLARA_APP": APP, "SERVER_NAME": host, "SERVER_PORT": str(port)})
    from abm import app  # the page's module, imported now rather than on its first request

    app.warm_up(dashboard.initial_controls())

    if not is_loopback(host):
        print(
            f"abm dashboard: listening on {host}, not on this machine only: anyone who can reach "
            f"it on the network can open the page",
            file=sys.stderr,
        )
    config = uvicorn.Config("solara.server.starlette:app", host=host, port=port, log_level="warning")
    server = uvicorn.Server(config)
    shown = "127.0.0.1" if host in ("0.0.0.0", "::") else host

    def announce() -> None:  # once the socket is bound, so that the address answers
        while not server.started and not server.should_exit:
            time.sleep(0.05)
        if server.started:
            print(f"Open http://{shown}:{port}/ in a browser (Ctrl-C stops)", flush=True)
            room = room_address() if host in ("0.0.0.0", "::") else None
            if room:
                print(f"Others on this network: http://{room}:{port}/", flush=True)

    threading.Thread(target=announce, daemon=True).start()
    try:
        server.run()  # in the main thread: uvicorn stops on SIGINT and SIGTERM
    except KeyboardInterrupt:  # uvicorn raises the SIGINT again once it has shut down
        return 130
    return 0


@contextlib.contextmanager
def running(scale: float | None = None, port: int | None = None, timeout_s: float = 120.0) -> Iterator[str]:
    """``abm dashboard`` as a child process on the loopback, for scripts and tests:
    yields the page's address once it is served, and stops the process (and anything it
    started) on leaving the block."""
    port = port or _free_port()
    command = [sys.executable, "-m", "abm.cli", "dashboard", "--port", str(port)]
    if scale is not None:
        command += ["--scale", str(scale)]
    process = subprocess.Popen(
        command, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True, start_new_session=True
    )
    try:
        deadline = time.monotonic() + timeout_s
        output = []
        for line in process.stdout:
            output.append(line)
            if line.startswith("Open http"):
                break
            if time.monotonic() > deadline:
                raise TimeoutError("abm dashboard did not start in time:\n" + "".join(output))
        else:
            raise RuntimeError("abm dashboard stopped before serving:\n" + "".join(output))
        threading.Thread(target=process.stdout.read, daemon=True).start()  # keep its pipe drained
        yield f"http://127.0.0.1:{port}/"
    finally:
        with contextlib.suppress(ProcessLookupError):
            os.killpg(process.pid, signal.SIGINT)
        try:
            process.wait(timeout=20)
        except subprocess.TimeoutExpired:
            os.killpg(process.pid, signal.SIGKILL)
            process.wait()


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]
