"""harness.processes: the collision rule (a server found on a port we chose is never taken for
ours), a process that dies while we wait, and one log folder per run."""

import os
import socket
import time

import pytest
import redis

from harness.processes import PrivateRedis, Process, ProcessExited, free_port, run_log_dir


def answers(port: int) -> bool:
    socket.create_connection(("127.0.0.1", port), timeout=1).close()
    return True


def test_a_listener_that_is_not_ours_is_refused_even_though_it_answers():
    with socket.socket() as theirs:  # another run's server, on the port this run chose
        theirs.bind(("127.0.0.1", 0))
        theirs.listen()
        port = theirs.getsockname()[1]
        ours = Process("harness-not-listening", ["sleep", "60"], {})

        with pytest.raises(RuntimeError, match=f"something else answers on port {port}"):
            ours.wait_ready(lambda: answers(port), port=port, timeout=10, what="our service")

    assert not ours.alive  # stopped, not left behind


def test_a_second_redis_on_a_taken_port_is_refused_not_reused():
    theirs = PrivateRedis().start()
    try:
        twin = Process(
            "harness-redis-twin", ["redis-server", "--port", str(theirs.port), "--bind", "127.0.0.1"], {}
        )
        # It exits (address in use) or is found not to be the listener: refused either way.
        with pytest.raises(RuntimeError):
            twin.wait_ready(
                lambda: redis.Redis.from_url(theirs.url).ping(), port=theirs.port, timeout=10, what="twin"
            )
        assert not twin.alive
        assert theirs.process.listens_on(theirs.port)
    finally:
        theirs.stop()


def test_a_process_that_exits_while_we_wait_fails_at_once_with_its_output():
    doomed = Process("harness-doomed", ["sh", "-c", "echo cannot bind; exit 3"], {})
    began = time.monotonic()

    with pytest.raises(ProcessExited, match="harness-doomed exited with 3:\ncannot bind"):
        doomed.wait_ready(lambda: False, port=free_port(), timeout=60, what="doomed")
    assert time.monotonic() - began < 10


def test_each_run_writes_its_process_logs_to_a_folder_of_its_own():
    assert run_log_dir().name == os.environ["CALCBOARD_TEST_RUN"]
    process = Process("harness-echo", ["echo", "hello"], {})
    process.popen.wait(10)
    process.stop()
    assert process.log_path.parent == run_log_dir()
    assert process.log_tail().endswith("hello\n")
