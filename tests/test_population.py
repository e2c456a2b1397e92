"""What the populations share (abm/population.py): the monthly random streams.

Each decision's stream for a month must be numpy's own PCG64 stream of that decision
advanced by the month's block, whatever was drawn before and in whatever order the
months are asked for: the fast positioning writes the LCG state directly, and is
checked here against numpy's ``advance``.
"""

from __future__ import annotations

import pickle
from copy import deepcopy

import numba
import numpy as np
import pytest

from abm import kernels
from abm.clock import Month
from abm.population import STREAMS, MonthlyStreams


def numpy_stream(seed: int, purpose: str, step: int) -> np.random.PCG64:
    bits = np.random.PCG64(np.random.SeedSequence([seed, STREAMS.index(purpose)]))
    bits.advance(step * MonthlyStreams.BLOCK)
    return bits


def assert_positioned(streams: MonthlyStreams, purpose: str, step: int) -> None:
    """The stream of ``purpose`` is numpy's for ``step``, and draws as numpy's would."""
    bits = streams._bits[STREAMS.index(purpose)]
    expected = numpy_stream(streams.seed, purpose, step)
    assert bits.state == expected.state
    drawn = np.random.Generator(bits).random(5)
    assert np.array_equal(drawn, np.random.Generator(expected).random(5))


@pytest.mark.parametrize("seed", [0, 7, 2**40 + 3])
def test_monthly_streams_are_numpys_streams_advanced_by_the_months_block(seed):
    streams = MonthlyStreams(seed)
    for step in (0, 1, 2, 443, 100, 1, 0):  # out of order and repeated, with draws between
        for purpose in STREAMS:
            streams(Month(step), purpose)
            assert_positioned(streams, purpose, step)
            # a 32-bit draw keeps half of a 64-bit one back: positioning drops it
            np.random.Generator(streams._bits[STREAMS.index(purpose)]).integers(0, 2**32, 3, dtype=np.uint32)


def test_a_stream_asked_for_again_in_its_month_starts_the_month_again():
    """The first request of a month sets every decision's stream at once; a decision
    asking again in the same month, after drawing, gets its stream back at the start
    of the month's block, and the others keep their place."""
    streams = MonthlyStreams(3)
    first, other = STREAMS[0], STREAMS[1]
    for step in (4, 5):
        streams(Month(step), first)
        np.random.Generator(streams._bits[0]).random(7)
        streams(Month(step), other)
        np.random.Generator(streams._bits[1]).random(3)
        streams(Month(step), first)
        assert_positioned(streams, first, step)
        drawn = streams._bits[1].state
        expected = numpy_stream(3, other, step)
        np.random.Generator(expected).random(3)
        assert drawn == expected.state


def test_monthly_streams_copied_are_made_anew_from_the_seed():
    streams = MonthlyStreams(5)
    for copy in (pickle.loads(pickle.dumps(streams)), deepcopy(streams)):
        assert copy.seed == 5
        for purpose in STREAMS:
            handle = copy(Month(12), purpose)
            assert handle != streams._handles[purpose]  # addresses in the copy's own generators
            assert_positioned(copy, purpose, 12)


def test_a_stream_handle_is_typed_as_the_plain_tuple_of_its_address():
    """Kernels get a month's stream as a plain tuple and tests and Python callers as a
    :class:`abm.kernels.Stream`: numba must type both alike, so that a kernel such as
    ``choose`` is compiled once for both. (Two families of compiled versions in numba's
    on-disk cache once gave a process that loaded one and compiled the car kernel
    afresh other grant arrival days than a fresh process.)"""
    handle = kernels.Stream(np.random.PCG64(1))
    assert numba.typeof(handle) == numba.typeof(tuple(handle)) == numba.typeof(MonthlyStreams(1)(Month(0), STREAMS[0]))
    assert numba.typeof(handle) != numba.typeof(1)  # a count passed for a stream fails to compile


@numba.njit
def kernel_uniforms(rng, n):
    out = np.empty(n)
    for i in range(n):
        out[i] = kernels.uniform(rng)
    return out


@pytest.mark.parametrize("seed", [0, 12345, 2**64 + 7])
def test_kernel_draws_are_numpys_pcg64_doubles(seed):
    """The kernels step numpy's PCG64 inline: the doubles numpy's ``random`` gives
    (shifted by half their resolution onto the open interval) and the same state after."""
    ours, theirs = np.random.PCG64(seed), np.random.PCG64(seed)
    drawn = kernel_uniforms(kernels.Stream(ours), 10_000)
    assert np.array_equal(drawn, np.random.Generator(theirs).random(10_000) + 2.0**-54)
    assert ours.state == theirs.state


def test_a_stream_needs_numpys_pcg64():
    with pytest.raises(TypeError, match=r"PCG64.*got MT19937"):
        kernels.Stream(np.random.MT19937(1))


def test_monthly_streams_differ_between_decisions_months_and_seeds():
    firsts = set()
    for seed in (1, 2):
        streams = MonthlyStreams(seed)
        for step in (0, 1):
            for purpose in STREAMS:
                streams(Month(step), purpose)
                firsts.add(float(np.random.Generator(streams._bits[STREAMS.index(purpose)]).random()))
    assert len(firsts) == 2 * 2 * len(STREAMS)
