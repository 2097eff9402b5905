"""The storage contract (``provisioner.services.storage.backend``), run against every backend kind."""

from __future__ import annotations

import asyncio
import random

import pytest
from storage_helpers import HANG_GUARD_SECONDS, collect_until, first_event

from provisioner.services.storage import watch as watch_module
from provisioner.services.storage.backend import (
    Backend,
    BackendClosed,
    Compacted,
    Event,
    FutureRevision,
    KeyExists,
    KeyNotFound,
    KeyValue,
    RevisionConflict,
    WatchDropped,
)


async def fill(backend: Backend, keys: list[str]) -> dict[str, KeyValue]:
    return {key: await backend.create(key, key.encode()) for key in keys}


def keys_of(items: list[KeyValue]) -> list[str]:
    return [kv.key for kv in items]


async def raises_compacted(backend: Backend, prefix: str, after_revision: int) -> Compacted:
    """The contract lets ``watch`` raise Compacted at once or on the first iteration at the latest."""
    with pytest.raises(Compacted) as caught:
        watch = backend.watch(prefix, after_revision)
        try:
            await first_event(watch)
        finally:
            await watch.close()
    return caught.value


# -- revisions -------------------------------------------------------------------------------------------------


async def test_an_empty_store_is_at_revision_zero(backend: Backend) -> None:
    assert await backend.current_revision() == 0
    assert backend.compact_revision == 0
    listed = await backend.list("")
    assert listed.items == [] and listed.revision == 0 and not listed.more


async def test_every_write_advances_the_one_revision_counter_by_exactly_one(backend: Backend) -> None:
    a = await backend.create("/k/a", b"1")
    b = await backend.create("/k/b", b"1")
    a2 = await backend.update("/k/a", b"2", a.mod_revision)
    gone = await backend.delete("/k/b")
    assert [a.mod_revision, b.mod_revision, a2.mod_revision, gone.mod_revision] == [1, 2, 3, 4]
    assert await backend.current_revision() == 4


async def test_refused_writes_do_not_use_a_revision(backend: Backend) -> None:
    a = await backend.create("/k/a", b"1")
    with pytest.raises(KeyExists):
        await backend.create("/k/a", b"again")
    with pytest.raises(RevisionConflict):
        await backend.update("/k/a", b"2", a.mod_revision + 7)
    with pytest.raises(KeyNotFound):
        await backend.delete("/k/missing")
    assert await backend.current_revision() == 1
    assert (await backend.create("/k/b", b"1")).mod_revision == 2


# -- get and list ----------------------------------------------------------------------------------------------


async def test_get_returns_the_current_value_with_its_revisions(backend: Backend) -> None:
    created = await backend.create("/k/a", b"one")
    updated = await backend.update("/k/a", b"two", created.mod_revision)
    assert await backend.get("/k/a") == KeyValue("/k/a", b"two", create_revision=1, mod_revision=2)
    assert updated == KeyValue("/k/a", b"two", create_revision=1, mod_revision=2)
    assert await backend.get("/k/missing") is None


async def test_list_returns_exactly_the_keys_under_the_prefix_in_key_order(backend: Backend) -> None:
    under = ["/r/pods/ns/web-1", "/r/pods/ns/web-10", "/r/pods/ns/web-2", "/r/pods/ns/%", "/r/pods/ns/_x"]
    under += ["/r/pods/ns/é", "/r/pods/ns/\U0001f600"]
    outside = ["/r/pods/ns2/web-1", "/r/pods/nsx", "/r/pods/n", "/r/podsns/a", "/r/pods/ns"]
    mixed = under + outside
    random.Random(7).shuffle(mixed)
    await fill(backend, mixed)
    listed = await backend.list("/r/pods/ns/")
    assert keys_of(listed.items) == sorted(under)
    assert listed.revision == len(mixed) and not listed.more
    assert [kv.value for kv in listed.items] == [key.encode() for key in sorted(under)]


async def test_prefix_characters_are_literal_not_patterns(backend: Backend) -> None:
    await fill(backend, ["/p/a%b", "/p/axb", "/p/a_c", "/p/azc", "/p/a%"])
    assert keys_of((await backend.list("/p/a%")).items) == ["/p/a%", "/p/a%b"]
    assert keys_of((await backend.list("/p/a_")).items) == ["/p/a_c"]


async def test_list_of_everything_and_count(backend: Backend) -> None:
    await fill(backend, ["/b/1", "/a/1", "/a/2", "/c"])
    assert keys_of((await backend.list("")).items) == ["/a/1", "/a/2", "/b/1", "/c"]
    assert await backend.count("/a/") == 2
    assert await backend.count("") == 4
    assert await backend.count("/z/") == 0
    await backend.delete("/a/1")
    assert await backend.count("/a/") == 1


async def test_list_pages_with_start_after_and_limit(backend: Backend) -> None:
    keys = [f"/page/{n:02d}" for n in range(7)]
    await fill(backend, keys)
    await backend.create("/pagez", b"outside the prefix, right after it")
    seen: list[str] = []
    mores: list[bool] = []
    start_after = ""
    revision = 0
    while True:
        page = await backend.list("/page/", revision=revision, start_after=start_after, limit=3)
        revision = page.revision
        seen += keys_of(page.items)
        mores.append(page.more)
        if not page.more:
            break
        start_after = page.items[-1].key
    assert seen == keys
    assert mores == [True, True, False]


async def test_a_limit_that_fits_exactly_reports_no_more(backend: Backend) -> None:
    await fill(backend, ["/x/1", "/x/2", "/x/3"])
    page = await backend.list("/x/", limit=3)
    assert keys_of(page.items) == ["/x/1", "/x/2", "/x/3"] and not page.more
    page = await backend.list("/x/", limit=2)
    assert keys_of(page.items) == ["/x/1", "/x/2"] and page.more


async def test_start_after_before_the_prefix_lists_from_the_prefix(backend: Backend) -> None:
    await fill(backend, ["/a", "/b/1", "/b/2"])
    assert keys_of((await backend.list("/b/", start_after="/a")).items) == ["/b/1", "/b/2"]
    assert keys_of((await backend.list("/b/", start_after="/b/1")).items) == ["/b/2"]


async def test_list_at_a_past_revision_sees_the_store_as_it_was(backend: Backend) -> None:
    states: dict[int, dict[str, bytes]] = {}
    state: dict[str, bytes] = {}
    a = await backend.create("/s/a", b"a1")
    state["/s/a"] = b"a1"
    states[a.mod_revision] = dict(state)
    b = await backend.create("/s/b", b"b1")
    state["/s/b"] = b"b1"
    states[b.mod_revision] = dict(state)
    a2 = await backend.update("/s/a", b"a2", a.mod_revision)
    state["/s/a"] = b"a2"
    states[a2.mod_revision] = dict(state)
    gone = await backend.delete("/s/b")
    del state["/s/b"]
    states[gone.mod_revision] = dict(state)
    b2 = await backend.create("/s/b", b"b2")
    state["/s/b"] = b"b2"
    states[b2.mod_revision] = dict(state)
    await backend.create("/t/other", b"not under /s/")

    for revision, expected in states.items():
        listed = await backend.list("/s/", revision=revision)
        assert listed.revision == revision
        assert {kv.key: kv.value for kv in listed.items} == expected, f"at revision {revision}"
    at_update = await backend.list("/s/", revision=a2.mod_revision)
    assert at_update.items[0] == KeyValue("/s/a", b"a2", create_revision=1, mod_revision=3)
    recreated = (await backend.list("/s/", revision=b2.mod_revision)).items[1]
    assert recreated.create_revision == b2.mod_revision


async def test_list_at_a_past_revision_pages(backend: Backend) -> None:
    await fill(backend, [f"/q/{n}" for n in range(5)])
    past = await backend.current_revision()
    for n in range(5):
        await backend.delete(f"/q/{n}")
    first = await backend.list("/q/", revision=past, limit=2)
    second = await backend.list("/q/", revision=past, start_after=first.items[-1].key, limit=2)
    third = await backend.list("/q/", revision=past, start_after=second.items[-1].key, limit=2)
    assert [keys_of(p.items) for p in (first, second, third)] == [
        ["/q/0", "/q/1"],
        ["/q/2", "/q/3"],
        ["/q/4"],
    ]
    assert [p.more for p in (first, second, third)] == [True, True, False]
    assert (await backend.list("/q/")).items == []


async def test_list_at_a_future_revision_is_refused(backend: Backend) -> None:
    await backend.create("/k", b"v")
    with pytest.raises(FutureRevision) as caught:
        await backend.list("", revision=5)
    assert caught.value.requested == 5 and caught.value.current == 1


# -- create, update, delete ------------------------------------------------------------------------------------


async def test_create_on_an_existing_key_raises_key_exists(backend: Backend) -> None:
    await backend.create("/k", b"first")
    with pytest.raises(KeyExists) as caught:
        await backend.create("/k", b"second")
    assert caught.value.key == "/k"
    assert (await backend.get("/k")).value == b"first"


async def test_a_deleted_key_can_be_created_again_with_a_new_create_revision(backend: Backend) -> None:
    first = await backend.create("/k", b"1")
    await backend.delete("/k")
    again = await backend.create("/k", b"2")
    assert again.create_revision == again.mod_revision == first.mod_revision + 2


async def test_update_with_the_current_revision_succeeds(backend: Backend) -> None:
    created = await backend.create("/k", b"1")
    updated = await backend.update("/k", b"2", created.mod_revision)
    assert updated == KeyValue("/k", b"2", created.create_revision, created.mod_revision + 1)


async def test_update_with_a_stale_revision_raises_conflict_carrying_the_current_value(
    backend: Backend,
) -> None:
    created = await backend.create("/k", b"1")
    updated = await backend.update("/k", b"2", created.mod_revision)
    with pytest.raises(RevisionConflict) as caught:
        await backend.update("/k", b"3", created.mod_revision)
    assert caught.value.key == "/k"
    assert caught.value.expected == created.mod_revision
    assert caught.value.current == updated
    assert await backend.get("/k") == updated


async def test_update_of_a_missing_key_raises_key_not_found(backend: Backend) -> None:
    with pytest.raises(KeyNotFound):
        await backend.update("/missing", b"v", 1)


async def test_update_requires_an_expected_revision(backend: Backend) -> None:
    await backend.create("/k", b"1")
    with pytest.raises(ValueError):
        await backend.update("/k", b"2", 0)


async def test_delete_without_cas_returns_the_last_value_at_the_deletion_revision(backend: Backend) -> None:
    created = await backend.create("/k", b"last")
    deleted = await backend.delete("/k")
    assert deleted == KeyValue("/k", b"last", created.create_revision, created.mod_revision + 1)
    assert await backend.get("/k") is None


async def test_delete_with_cas(backend: Backend) -> None:
    created = await backend.create("/k", b"1")
    updated = await backend.update("/k", b"2", created.mod_revision)
    with pytest.raises(RevisionConflict) as caught:
        await backend.delete("/k", expected_revision=created.mod_revision)
    assert caught.value.current == updated
    deleted = await backend.delete("/k", expected_revision=updated.mod_revision)
    assert deleted.value == b"2" and await backend.get("/k") is None


async def test_delete_of_a_missing_key_raises_key_not_found(backend: Backend) -> None:
    with pytest.raises(KeyNotFound) as caught:
        await backend.delete("/missing")
    assert caught.value.key == "/missing"
    await backend.create("/k", b"v")
    await backend.delete("/k")
    with pytest.raises(KeyNotFound):
        await backend.delete("/k", expected_revision=1)


async def test_concurrent_creates_of_one_key_have_exactly_one_winner(backend: Backend) -> None:
    outcomes = await asyncio.gather(
        *(backend.create("/race", str(n).encode()) for n in range(10)), return_exceptions=True
    )
    winners = [o for o in outcomes if isinstance(o, KeyValue)]
    assert len(winners) == 1
    assert all(isinstance(o, KeyExists) for o in outcomes if o is not winners[0])
    assert await backend.get("/race") == winners[0]
    assert await backend.current_revision() == 1


async def test_concurrent_cas_writers_lose_no_update(backend: Backend) -> None:
    counters = [f"/counter/{n}" for n in range(5)]
    await fill(backend, counters)
    for key in counters:
        await backend.update(key, b"0", (await backend.get(key)).mod_revision)
    start = await backend.current_revision()
    tasks, increments = 20, 50

    async def increment_many(task: int) -> int:
        conflicts = 0
        key = counters[task % len(counters)]
        for _ in range(increments):
            while True:
                current = await backend.get(key)
                try:
                    await backend.update(key, str(int(current.value) + 1).encode(), current.mod_revision)
                    break
                except RevisionConflict:
                    conflicts += 1
        return conflicts

    async with asyncio.timeout(HANG_GUARD_SECONDS * 3):
        await asyncio.gather(*(increment_many(n) for n in range(tasks)))
    per_counter = tasks * increments // len(counters)
    for key in counters:
        assert (await backend.get(key)).value == str(per_counter).encode()
    end = await backend.current_revision()
    assert end == start + tasks * increments

    events = await collect_until(backend.watch("/counter/", start), end)
    assert [e.revision for e in events] == list(range(start + 1, end + 1))
    for event in events:  # each update moved its counter forward by exactly one
        assert event.prev is not None
        assert int(event.kv.value) == int(event.prev.value) + 1


# -- watch -----------------------------------------------------------------------------------------------------


async def test_watch_from_now_sees_only_later_writes(backend: Backend) -> None:
    await backend.create("/w/before", b"1")
    watch = backend.watch("/w/", 0)
    later = await backend.create("/w/after", b"2")
    event = await first_event(watch)
    assert event == Event("PUT", later, None)
    assert event.is_create and event.revision == later.mod_revision


async def test_watch_from_a_past_revision_replays_history_then_goes_live(backend: Backend) -> None:
    written = [await backend.create(f"/w/{n}", b"v") for n in range(10)]
    watch = backend.watch("/w/", written[3].mod_revision)
    for n in range(10, 15):
        written.append(await backend.create(f"/w/{n}", b"v"))
    events = await collect_until(watch, written[-1].mod_revision)
    assert [e.kv for e in events] == written[4:]


async def test_a_watch_after_a_revision_not_reached_yet_starts_after_it(backend: Backend) -> None:
    await backend.create("/f/0", b"v")
    watch = backend.watch("/f/", 3)
    written = [await backend.create(f"/f/{n}", b"v") for n in range(1, 5)]
    assert await collect_until(watch, written[-1].mod_revision) == [
        Event("PUT", kv, None) for kv in written[2:]
    ]


async def test_watch_resumes_without_gap_or_duplicate_while_writes_continue(
    backend: Backend, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(watch_module, "REPLAY_PAGE_SIZE", 7)  # replay over several pages
    total = 300
    halfway = asyncio.Event()

    async def write_many() -> int:
        kv = await backend.create("/live/k", b"0")
        for n in range(1, total):
            kv = await backend.update("/live/k", str(n).encode(), kv.mod_revision)
            await backend.create(f"/live/other-{n}", b"x")
            if n == total // 2:
                halfway.set()
        return kv.mod_revision

    writer = asyncio.create_task(write_many())
    async with asyncio.timeout(HANG_GUARD_SECONDS):
        await halfway.wait()
    resume_after = 40  # an old revision: history to replay while new events keep arriving
    watch = backend.watch("/live/", resume_after)
    last = await writer
    events = await collect_until(watch, last)
    assert [e.revision for e in events] == list(range(resume_after + 1, last + 1))


async def test_watch_filters_by_prefix(backend: Backend) -> None:
    await backend.create("/pre", b"so that a replay after revision 1 covers everything below")
    live = backend.watch("/a/", 0)
    await fill(backend, ["/a/1", "/ab", "/b/1", "/a/2", "/a"])
    marker = await backend.create("/a/zz", b"end")
    replayed = backend.watch("/a/", 1)
    for watch in (live, replayed):
        events = await collect_until(watch, marker.mod_revision)
        assert [e.kv.key for e in events] == ["/a/1", "/a/2", "/a/zz"]


async def test_put_events_carry_the_previous_value(backend: Backend) -> None:
    await backend.create("/pre", b"so that the history starts after revision 1")
    watch = backend.watch("/k", 0)
    created = await backend.create("/k", b"1")
    updated = await backend.update("/k", b"2", created.mod_revision)
    live = await collect_until(watch, updated.mod_revision)
    replayed = await collect_until(backend.watch("/k", 1), updated.mod_revision)
    assert live == replayed == [Event("PUT", created, None), Event("PUT", updated, created)]
    assert live[0].is_create and not live[1].is_create


async def test_delete_events_carry_the_last_value(backend: Backend) -> None:
    await backend.create("/pre", b"so that the history starts after revision 1")
    created = await backend.create("/d/k", b"1")
    updated = await backend.update("/d/k", b"last", created.mod_revision)
    watch = backend.watch("/d/", 0)
    deleted = await backend.delete("/d/k")
    expected = Event(
        "DELETE", KeyValue("/d/k", b"last", created.create_revision, deleted.mod_revision), updated
    )
    assert await first_event(watch) == expected
    replayed = await collect_until(backend.watch("/d/", 1), deleted.mod_revision)
    assert replayed == [Event("PUT", created, None), Event("PUT", updated, created), expected]


async def test_watch_close_ends_iteration_cleanly(backend: Backend) -> None:
    watch = backend.watch("/k", 0)
    received: list[Event] = []

    async def consume() -> None:
        async for event in watch:
            received.append(event)

    consumer = asyncio.create_task(consume())
    kv = await backend.create("/k", b"1")
    async with asyncio.timeout(HANG_GUARD_SECONDS):
        while not received:
            await asyncio.sleep(0.001)
        await watch.close()
        await consumer  # ends without an error
    assert received == [Event("PUT", kv, None)]


async def test_a_reader_may_stop_waiting_and_read_on_later(backend: Backend) -> None:
    await backend.create("/pre", b"so that a replay is needed")
    watch = backend.watch("/k", 1)
    with pytest.raises(TimeoutError):  # nothing to deliver: the wait is abandoned (as for a bookmark)
        await asyncio.wait_for(anext(watch), 0.05)
    kv = await backend.create("/k", b"v")
    assert await first_event(watch) == Event("PUT", kv, None)


async def test_a_slow_watcher_is_dropped_without_blocking_writers(make_backend) -> None:
    backend = await make_backend(watch_queue_size=8)
    slow = backend.watch("/s/", 0)  # never read while the writes happen
    async with asyncio.timeout(HANG_GUARD_SECONDS):  # writers never wait for the slow watcher
        for n in range(50):
            await backend.create(f"/s/{n}", b"v")
    with pytest.raises(WatchDropped):
        await first_event(slow)

    # The client recovers as a reflector does: re-list, then watch from the list's revision.
    listed = await backend.list("/s/")
    assert len(listed.items) == 50
    again = backend.watch("/s/", listed.revision)
    later = await backend.create("/s/later", b"v")
    assert (await first_event(again)).kv == later


async def test_a_watcher_that_falls_behind_before_its_replay_is_read_is_dropped(make_backend) -> None:
    backend = await make_backend(watch_queue_size=4)
    await fill(backend, [f"/s/{n}" for n in range(3)])
    resumed = backend.watch("/s/", 1)  # needs a replay of revisions 2..3, then live events
    await fill(backend, [f"/s/later-{n}" for n in range(5)])  # 5 live events > a queue of 4
    with pytest.raises(WatchDropped):
        async with asyncio.timeout(HANG_GUARD_SECONDS):
            async for _ in resumed:
                pass


async def test_close_ends_watches_and_refuses_further_operations(make_backend) -> None:
    backend = await make_backend()
    kv = await backend.create("/k", b"1")
    watch = backend.watch("/k", 0)
    waiting = asyncio.create_task(first_event(watch))
    await asyncio.sleep(0)  # let the watcher start waiting
    await backend.close()
    with pytest.raises(BackendClosed):
        await waiting
    with pytest.raises(BackendClosed):
        await backend.get("/k")
    with pytest.raises(BackendClosed):
        await backend.update("/k", b"2", kv.mod_revision)
    with pytest.raises(BackendClosed):
        await first_event(backend.watch("/k", 0))


async def test_close_commits_the_writes_already_submitted(make_backend) -> None:
    backend = await make_backend()
    writes = [asyncio.create_task(backend.create(f"/c/{n}", b"v")) for n in range(20)]
    await asyncio.sleep(0)  # every write is submitted
    await backend.close()
    outcomes = await asyncio.gather(*writes, return_exceptions=True)
    committed = [o for o in outcomes if isinstance(o, KeyValue)]
    assert all(isinstance(o, KeyValue | BackendClosed) for o in outcomes)
    assert [kv.mod_revision for kv in committed] == list(range(1, len(committed) + 1))


# -- compaction ------------------------------------------------------------------------------------------------


async def test_compaction_forgets_history_but_keeps_current_values(backend: Backend) -> None:
    a = await backend.create("/c/a", b"a1")
    b = await backend.create("/c/b", b"b1")
    a = await backend.update("/c/a", b"a2", a.mod_revision)
    await backend.create("/c/gone", b"x")
    await backend.delete("/c/gone")
    b = await backend.update("/c/b", b"b2", b.mod_revision)  # revision 6
    compact_at = 5
    before = await backend.list("/c/", revision=compact_at)
    tail = await collect_until(backend.watch("/c/", compact_at), b.mod_revision)
    now = await backend.list("/c/")

    await backend.compact(compact_at)

    assert backend.compact_revision == compact_at
    for revision in (1, 4):
        with pytest.raises(Compacted) as caught:
            await backend.list("/c/", revision=revision)
        assert caught.value.requested == revision and caught.value.compact_revision == compact_at
        await raises_compacted(backend, "/c/", revision)
    assert await backend.list("/c/", revision=compact_at) == before
    assert (await backend.list("/c/")).items == now.items
    assert await collect_until(backend.watch("/c/", compact_at), b.mod_revision) == tail
    assert (await backend.create("/c/new", b"n")).mod_revision == b.mod_revision + 1


async def test_compacting_to_the_current_revision_keeps_every_live_value(backend: Backend) -> None:
    a = await backend.create("/c/a", b"1")
    await backend.update("/c/a", b"2", a.mod_revision)
    await backend.create("/c/b", b"1")
    await backend.delete("/c/b")
    head = await backend.current_revision()
    await backend.compact(head)
    listed = await backend.list("/c/")
    assert [(kv.key, kv.value) for kv in listed.items] == [("/c/a", b"2")]
    assert listed.revision == head == await backend.current_revision()
    watch = backend.watch("/c/", head)
    created = await backend.create("/c/b", b"again")
    assert await first_event(watch) == Event("PUT", created, None)


async def test_compaction_is_monotonic_and_bounded_by_the_present(backend: Backend) -> None:
    await fill(backend, ["/1", "/2", "/3"])
    await backend.compact(2)
    await backend.compact(1)  # older than the compact revision: nothing to do
    assert backend.compact_revision == 2
    with pytest.raises(FutureRevision):
        await backend.compact(4)
    assert backend.compact_revision == 2


async def test_a_watch_from_below_the_compact_revision_is_refused(backend: Backend) -> None:
    await fill(backend, ["/1", "/2", "/3", "/4"])
    await backend.compact(3)
    error = await raises_compacted(backend, "", 2)
    assert error.requested == 2 and error.compact_revision == 3
    from_now = backend.watch("", 0)  # 0 = from now: never too old
    kv = await backend.create("/5", b"v")
    assert (await first_event(from_now)).kv == kv


async def test_scheduled_compaction_keeps_the_last_revisions(make_backend) -> None:
    backend = await make_backend(compact_interval=0.01, compact_keep=5)
    await fill(backend, [f"/k/{n}" for n in range(20)])
    async with asyncio.timeout(HANG_GUARD_SECONDS):
        while backend.compact_revision < 15:
            await asyncio.sleep(0.01)
    assert backend.compact_revision == 15
    assert len((await backend.list("/k/")).items) == 20
    assert len((await backend.list("/k/", revision=15)).items) == 15


# -- a random workload checked against a model -----------------------------------------------------------------


async def test_a_random_workload_matches_a_simple_model(backend: Backend) -> None:
    rng = random.Random(20240601)
    keys = [f"/m/{name}" for name in ("a", "b", "c", "d", "e%", "e_")] + ["/n/a"]
    model: dict[str, KeyValue] = {}
    snapshots: dict[int, dict[str, KeyValue]] = {}  # revision 0 means "now" to list, so it is not here
    log: list[Event] = []
    revision = 0
    for step in range(250):
        key = rng.choice(keys)
        current = model.get(key)
        operation = rng.choice(["create", "update", "update-stale", "delete", "delete-cas"])
        value = f"{step}".encode()
        if operation == "create":
            if current is not None:
                with pytest.raises(KeyExists):
                    await backend.create(key, value)
                continue
            kv = await backend.create(key, value)
            revision += 1
            assert kv == KeyValue(key, value, revision, revision)
            log.append(Event("PUT", kv, None))
        elif current is None:
            with pytest.raises(KeyNotFound):
                if operation.startswith("update"):
                    await backend.update(key, value, 1)
                else:
                    await backend.delete(key)
            continue
        elif operation == "update-stale":
            with pytest.raises(RevisionConflict) as caught:
                await backend.update(key, value, current.mod_revision - 1 or current.mod_revision + 1)
            assert caught.value.current == current
            continue
        elif operation == "update":
            kv = await backend.update(key, value, current.mod_revision)
            revision += 1
            assert kv == KeyValue(key, value, current.create_revision, revision)
            log.append(Event("PUT", kv, current))
        else:
            expected = current.mod_revision if operation == "delete-cas" else 0
            kv = await backend.delete(key, expected)
            revision += 1
            assert kv == KeyValue(key, current.value, current.create_revision, revision)
            log.append(Event("DELETE", kv, current))
        if log[-1].type == "DELETE":
            del model[key]
        else:
            model[key] = log[-1].kv
        snapshots[revision] = dict(model)

    assert await backend.current_revision() == revision
    for at, state in snapshots.items():
        listed = await backend.list("/m/", revision=at)
        expected_items = sorted((kv for k, kv in state.items() if k.startswith("/m/")), key=lambda kv: kv.key)
        assert listed.items == expected_items, f"list at revision {at}"
    expected_events = [e for e in log if e.revision > 1 and e.kv.key.startswith("/m/")]
    replayed = await collect_until(backend.watch("/m/", 1), expected_events[-1].revision)
    assert replayed == expected_events
