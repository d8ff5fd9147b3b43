"""Big freed blocks are reused during a compaction run instead of being faulted in again."""

from __future__ import annotations

import resource

import pytest

from batch.compact.memory import _glibc, big_blocks_reused

BLOCK = 64 * 1024 * 1024  # over glibc's largest mmap threshold (32 MiB): mmapped by default


def faults_to_reallocate() -> int:
    """Minor page faults while a freed 64 MiB block is allocated and written again."""
    first = bytearray(BLOCK)  # zeroed: every page is touched
    del first
    before = resource.getrusage(resource.RUSAGE_SELF).ru_minflt
    second = bytearray(BLOCK)
    after = resource.getrusage(resource.RUSAGE_SELF).ru_minflt
    del second
    return after - before


@pytest.mark.skipif(_glibc() is None, reason="not glibc: the allocator is left alone, nothing to measure")
def test_inside_a_run_a_freed_big_block_is_reused_without_page_faults() -> None:
    pages = BLOCK // resource.getpagesize()
    assert faults_to_reallocate() > pages // 2  # glibc's default: munmap on free, fault every page again
    with big_blocks_reused() as applied:
        assert applied
        faults_to_reallocate()  # the first block of the run comes from the heap once
        assert faults_to_reallocate() < pages // 10
    assert faults_to_reallocate() > pages // 2  # defaults again after the run


@pytest.mark.skipif(_glibc() is None, reason="not glibc: the allocator is left alone")
def test_arrow_allocates_from_glibc_during_the_run_and_from_its_own_pool_after() -> None:
    import pyarrow as pa

    before = pa.default_memory_pool().backend_name
    with big_blocks_reused():
        assert pa.default_memory_pool().backend_name == "system"
        kept = pa.array(range(1000))  # allocated inside, freed outside: its pool goes with it
    assert pa.default_memory_pool().backend_name == before
    assert kept.sum().as_py() == 499500
