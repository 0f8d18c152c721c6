"""``python -m modelslab_core.testing --port 8765 --api-key test-key [--max-in-flight 5]``."""

from __future__ import annotations

import argparse
import signal
import threading

from ._server import StandIn


def _parse(argv: list[str] | None) -> argparse.Namespace:
    """Command-line options."""
    parser = argparse.ArgumentParser(
        prog="python -m modelslab_core.testing",
        description="Serve a local stand-in for ModelsLab's LLM API until Ctrl-C.",
    )
    parser.add_argument("--port", type=int, default=8765, help="port on 127.0.0.1 (0: any)")
    parser.add_argument("--api-key", default="test-key", help="the key the server accepts")
    parser.add_argument(
        "--max-in-flight",
        type=int,
        default=None,
        help="reject requests past this many in flight with 429",
    )
    parser.add_argument(
        "--chunk-delay", type=float, default=0.0, help="seconds between stream events"
    )
    return parser.parse_args(argv)


def main(argv: list[str] | None = None) -> None:
    """Start the server, print its base URL, serve until Ctrl-C or SIGTERM."""
    args = _parse(argv)
    srv = StandIn(
        api_key=args.api_key,
        max_in_flight=args.max_in_flight,
        chunk_delay=args.chunk_delay,
        port=args.port,
    )
    done = threading.Event()
    # Both signals only set the event: a KeyboardInterrupt raised between start() and the
    # try block (a busy machine delays the main thread) would skip stop(), and the server's
    # thread would keep the process alive.
    for sig in (signal.SIGINT, signal.SIGTERM):
        signal.signal(sig, lambda *_: done.set())
    srv.start()
    try:
        print(srv.base_url, flush=True)
        while not done.wait(0.5):
            pass
    finally:
        srv.stop()


if __name__ == "__main__":
    main()
