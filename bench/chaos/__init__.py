"""Chaos bench: a compound-fault scenario against the sandbox, with real
processes, and a table of the invariant figures (design §8).

Processes, all on loopback: redis-server with its append-only file, the sandbox as Agora
(10 requests/s, 429 beyond), `autorec webhooks` and two `autorec worker`s, with
AUTOREC_MAX_RECORDINGS=8, AUTOREC_MAX_API_QPS=10, grace 2 s and a reconcile every 4 s.

During `--duration-s`: 36 channels whose users (1 to 3 each) join and leave at random
through the sandbox, which notifies the webhook service by NCS; each worker SIGKILLed and
restarted every 20-40 s; Redis SIGKILLed twice and restarted from its AOF; Agora answering
503 on 5 % of calls, slowly (1.5 s) on 5 %, losing 3 % of start answers (504/62 after the
start took effect); a running task failing over (NCS 12, 404 on query and stop for 8-25 s)
every 10-20 s and one killed (NCS 41 + 11) every 15-30 s; 10 % of NCS leave notifications
(102/104/106/108) dropped, 10 % of all notifications duplicated, 5 % reordered; a fuzzed body
posted to the webhook service every 0.5 s. Then a quiet tail: faults off, everyone leaves,
wait grace + 3 intervals.

The figures (goal 0 each, peak ≤ limit): starts beyond the limit; 429 answers; leak seconds
(a recording on a channel empty longer than grace + interval + 5 s, or grace + 2 x interval +
5 s after a leave the webhook never accepted); two recordings in one channel; missed-recording
seconds (occupied channels waiting longer than interval + 5 s while recordings run below the
limit); lost events (accepted by the webhook service, never applied: see `audit.py`);
recordings running after the tail; webhook 5xx other than 503 while Redis was down; fuzzed
bodies answered 5xx; secrets in the processes' output. The exit status is 1 when a goal is
missed.

    .venv/bin/python -m bench.chaos --duration-s 300
    .venv/bin/python -m bench.chaos --duration-s 60 --seed 7 --log-dir chaos-logs
"""
