"""The compiled core of the monthly step: consideration, choice with grants, peer counts.

Each population's decision in a month is one call into a kernel here that draws the
agents who act, values their options, lets them choose with first-come grants and
updates their state, looping over the acting agents only. Compiled with numba
(cached on disk; every compiled function lives in this one file, because numba
renews a cached function when its own file changes, not when a function it calls
from another file does), the month costs a few microseconds of Python besides that work,
where the same rules written as numpy array operations cost several hundred calls a
month (see ``abm bench``). The rules are those of :mod:`abm.decision`, whose
docstring states them; the kernels take plain arrays and scalars so that the
populations, :mod:`abm.policy` and the tests share one implementation.

Callers keep to one type per argument (a stream is a tuple of one int64 address,
counts are int64, never literals), so that each kernel has one compiled version per
kind of call: versions compiled by different processes and loaded from numba's cache
into one process can clash (numba issue #10486), which once gave a process other
grant arrival days than a fresh one.

Conventions:

- ``peers`` is a :class:`abm.decision.PeerExposure`'s ``state`` tuple ``(indptr,
  indices, nodes, inverse_degree)``; an empty ``indptr`` means the peer group is the
  whole population, held in node 0. A node's row holds its count of adopting peers
  and, for the mid-month share, what last month's change of the count needs, kept
  lazily so that no step touches every agent: the month the count last changed, the
  count at the start of that month and the change during the month before it. A row
  is 16 bytes, so that a random update reads one cache line.
- An agent's *flag code* is ``bit 0``: its house is being built this month, ``bit 1``:
  it is a large emitter (:data:`abm.policy.FLAGS`); eligibility and campaign tables
  are indexed by it.
- ``programmes`` is :func:`abm.policy.programme_arrays` of the scenario's programmes,
  ``ledger`` :attr:`abm.policy.BudgetLedger.arrays`.
"""

from __future__ import annotations

import ctypes
import functools

import numba
import numpy as np
from llvmlite import ir
from numba.core import cgutils, types
from numba.core.extending import intrinsic, typeof_impl

from abm.clock import MONTHS_PER_YEAR

DT_YEARS = 1.0 / MONTHS_PER_YEAR
# relative slack when comparing a running total of grants with a budget
BUDGET_SLACK = 1e-12

jit = numba.njit(cache=True, nogil=True)


# ---------------------------------------------------------------- memory

# how many scattered rows ahead of its work a loop asks for (:func:`prefetch`)
AHEAD = 16


@intrinsic
def prefetch(typingctx, array, row):
    """Ask the processor to bring ``array[row]`` (its first and last element, and its
    middle in a row over 64 bytes: every cache line of a row up to 128 bytes) into its
    cache, for writing: a hint, with no effect on any result. A loop over scattered
    rows runs faster when their fetches overlap instead of each waiting on the last:
    a loop that does little with each row (the peer updates) asks for all of them
    first and then works (about half the time per neighbour, measured with a cycle
    counter); one that does more (drawing, valuing) asks for the row :data:`AHEAD`
    rows ahead of the one it works on, which then finds it in the core's nearest
    cache (in a run's valuation of car owners, a fifth less time than asking for all
    first)."""

    def codegen(context, builder, signature, args):
        array_type = signature.args[0]
        data = context.make_array(array_type)(context, builder, args[0])
        shape = cgutils.unpack_tuple(builder, data.shape)
        strides = cgutils.unpack_tuple(builder, data.strides)
        i32, byte_pointer = ir.IntType(32), ir.IntType(8).as_pointer()
        function = cgutils.get_or_insert_function(
            builder.module, ir.FunctionType(ir.VoidType(), [byte_pointer, i32, i32, i32]), "llvm.prefetch.p0"
        )

        def fetch(index):
            pointer = cgutils.get_item_pointer2(
                context, builder, data.data, shape, strides, array_type.layout, index, wraparound=False
            )
            # write intent, keep in all cache levels, data cache
            builder.call(function, [builder.bitcast(pointer, byte_pointer), i32(1), i32(3), i32(1)])

        row, zero, one = args[1], context.get_constant(types.intp, 0), context.get_constant(types.intp, 1)
        fetch([row] + [zero] * (array_type.ndim - 1))
        if array_type.ndim == 2:
            last = builder.sub(shape[1], one)
            fetch([row, last])
            # a row of more than one cache line may span three: its middle too
            row_bytes = builder.mul(
                shape[1],
                context.get_constant(types.intp, context.get_abi_sizeof(context.get_data_type(array_type.dtype))),
            )
            with builder.if_then(builder.icmp_signed(">", row_bytes, context.get_constant(types.intp, 64))):
                fetch([row, builder.lshr(last, one)])
        return context.get_dummy_value()

    return types.void(array, types.intp), codegen


# ---------------------------------------------------------------- networks


@jit
def small_world_csr(n, half, moved, draws):
    """The CSR pattern (``indptr``, ``indices``; int32) of a Watts-Strogatz graph on
    ``n`` nodes in canonical form (each row's neighbours sorted, a tie given twice
    counted once, as scipy's ``sum_duplicates`` leaves it): node s ties to s + 1 ..
    s + ``half`` (mod n), tie k = s half + j - 1 of them, where ``moved[k]``, instead
    to the next of ``draws`` (a uniform draw over the other n - 1 nodes, shifted past
    s, so never s itself)."""
    target = np.empty(n * half, dtype=np.int32)
    start = np.zeros(n + 1, dtype=np.int32)
    m = 0
    for s in range(n):
        start[s + 1] += half
        for j in range(1, half + 1):
            k = s * half + j - 1
            if moved[k]:
                t = draws[m] + (1 if draws[m] >= s else 0)
                m += 1
            else:
                t = s + j if s + j < n else s + j - n
            target[k] = t
            start[t + 1] += 1
    for i in range(n):
        start[i + 1] += start[i]
    fill = start[:-1].copy()
    indices = np.empty(start[n], dtype=np.int32)
    for s in range(n):
        p = fill[s]
        for k in range(s * half, (s + 1) * half):
            t = target[k]
            indices[p] = t
            p += 1
            indices[fill[t]] = s
            fill[t] += 1
        fill[s] = p
    indptr = np.empty(n + 1, dtype=np.int32)
    indptr[0] = 0
    kept = 0
    for i in range(n):
        begin, end = start[i], start[i + 1]
        for p in range(begin + 1, end):  # insertion sort: a row holds a few ties
            j, q = indices[p], p
            while q > begin and indices[q - 1] > j:
                indices[q] = indices[q - 1]
                q -= 1
            indices[q] = j
        last = -1
        for p in range(begin, end):  # compacting in place: entries move only backwards
            j = indices[p]
            if j != last:
                indices[kept] = j
                kept += 1
                last = j
        indptr[i + 1] = kept
    return indptr, indices[:kept].copy()


# ---------------------------------------------------------------- peer exposure

# columns of a peer group's node table
COUNT, TOUCHED, START, PRIOR = range(4)


@jit
def _touch(nodes, node, month):
    last = nodes[node, TOUCHED]
    if last != month:
        nodes[node, PRIOR] = nodes[node, COUNT] - nodes[node, START] if last == month - 1 else 0
        nodes[node, START] = nodes[node, COUNT]
        nodes[node, TOUCHED] = month


@jit
def peer_add(peers, month, agents, sign):
    """Count ``agents`` as adopting (``sign`` 1) or no longer adopting (-1) in ``month``."""
    indptr, indices, nodes, _inverse_degree = peers
    if indptr.size == 0:
        _touch(nodes, 0, month)
        nodes[0, COUNT] += sign * agents.size
        return
    # all the neighbours' rows first; where they are (the agents' rows of the
    # network) a distance ahead, so that finding them waits on nothing
    for t in range(-2 * AHEAD, agents.size):
        if t + 2 * AHEAD < agents.size:
            prefetch(indptr, agents[t + 2 * AHEAD])
        if 0 <= t + AHEAD < agents.size:
            prefetch(indices, indptr[agents[t + AHEAD]])
        if t < 0:
            continue
        a = agents[t]
        for e in range(indptr[a], indptr[a + 1]):
            prefetch(nodes, indices[e])
    for a in agents:
        for e in range(indptr[a], indptr[a + 1]):
            j = indices[e]
            _touch(nodes, j, month)
            nodes[j, COUNT] += sign


@jit
def peer_share(peers, agent):
    """Share of ``agent``'s peers who have adopted."""
    node = agent if peers[0].size else 0
    count = peers[2][node, COUNT]
    return count * peers[3][node] if count else 0.0


@jit
def midmonth_share(peers, agent, month):
    """The share expected at the middle of ``month``: the current count plus half of
    last month's change, within [0, 1]."""
    indptr, _indices, nodes, inverse_degree = peers
    node = agent if indptr.size else 0
    last = nodes[node, TOUCHED]
    if last == month:
        change = nodes[node, PRIOR]
    elif last == month - 1:
        change = nodes[node, COUNT] - nodes[node, START]
    else:
        change = 0
    peers_adopting = nodes[node, COUNT] + 0.5 * change
    if peers_adopting <= 0:  # most agents: no need to read the degree
        return 0.0
    return min(peers_adopting * inverse_degree[node], 1.0)


@jit
def peer_shares(peers, agents):
    out = np.empty(agents.size)
    for t in range(agents.size):
        out[t] = peer_share(peers, agents[t])
    return out


@jit
def midmonth_shares(peers, agents, month):
    out = np.empty(agents.size)
    for t in range(agents.size):
        out[t] = midmonth_share(peers, agents[t], month)
    return out


# ---------------------------------------------------------------- random draws


class Stream(tuple):
    """A handle on a numpy PCG64 bit generator for the kernels: the address of its
    state (a tuple of one, so that numba tells a stream from a count), from which the
    kernels draw inline (:func:`uniform`): a seeded numpy stream stays the source of
    every number, without numba's per-call conversion of a ``Generator`` or a call into
    numpy per draw. The handle holds the bit generator, so the address stays valid as
    long as the handle is used; the kernels take the plain tuple of it alike."""

    def __new__(cls, generator: np.random.Generator | np.random.BitGenerator) -> Stream:
        bit_generator = getattr(generator, "bit_generator", generator)
        if type(bit_generator) is not np.random.PCG64:
            raise TypeError(
                f"the kernels draw from numpy's PCG64 bit generator (np.random.default_rng's), "
                f"got {type(bit_generator).__name__}"
            )
        handle = super().__new__(cls, (bit_generator.ctypes.state_address,))
        handle.bit_generator = bit_generator
        return handle


@typeof_impl.register(Stream)
def _typeof_stream(value, context):
    # the type numba gives the plain tuple of the address too (it is below 2**63), so
    # that a kernel called with either is compiled once
    return types.UniTuple(types.int64, 1)


# numpy's PCG64: the LCG's multiplier (PCG_DEFAULT_MULTIPLIER_128) and its state,
# pcg64_state (below) -> pcg64_random_t {state, inc}, each 128-bit number two 64-bit words
_PCG64_MULTIPLIER = 0x2360ED051FC65DA44385DF649FCCF645


class PCG64State(ctypes.Structure):
    """numpy's ``pcg64_state``, at a bit generator's ``ctypes.state_address``: the
    LCG's address and a 32-bit value kept back from the last 64-bit draw."""

    _fields_ = (("pcg_state", ctypes.c_void_p), ("has_uint32", ctypes.c_int), ("uinteger", ctypes.c_uint32))


@functools.cache
def pcg64_word_order() -> tuple[int, int]:
    """(low, high): which of the two 64-bit words of a 128-bit number in numpy's PCG64
    state holds its low half and which its high half. That depends on how numpy was
    built (native 128-bit integers, or two words high first where the compiler has
    none), so it is read off a generator's memory."""
    bits = np.random.PCG64(1)
    state = bits.state["state"]["state"]
    words = list((ctypes.c_uint64 * 2).from_address(PCG64State.from_address(bits.ctypes.state_address).pcg_state))
    mask = (1 << 64) - 1
    if words == [state & mask, state >> 64]:
        return 0, 1
    if words == [state >> 64, state & mask]:
        return 1, 0
    raise RuntimeError("numpy's PCG64 keeps its state in a layout the kernels do not read")


def _lcg_words(builder, state_address):
    """The four 64-bit words (state, inc) of the PCG64 generator at ``state_address``."""
    i64 = ir.IntType(64)
    return builder.load(builder.inttoptr(state_address, i64.as_pointer().as_pointer()))


def _word(builder, words, k):
    return builder.gep(words, [ir.Constant(ir.IntType(32), k)])


def _join_128(builder, lo, hi):
    """The 128-bit number of the 64-bit words ``lo`` and ``hi``."""
    i128 = ir.IntType(128)
    return builder.or_(builder.shl(builder.zext(hi, i128), ir.Constant(i128, 64)), builder.zext(lo, i128))


def _store_lcg_state(builder, words, state):
    """Write the 128-bit ``state`` into the generator's state words, in numpy's word
    order (:func:`pcg64_word_order`); return its (low, high) halves."""
    low, high = pcg64_word_order()
    i64 = ir.IntType(64)
    low_half = builder.trunc(state, i64)
    high_half = builder.trunc(builder.lshr(state, ir.Constant(ir.IntType(128), 64)), i64)
    builder.store(low_half, _word(builder, words, low))
    builder.store(high_half, _word(builder, words, high))
    return low_half, high_half


@intrinsic
def _pcg64_next_double(typingctx, state_address):
    """numpy's ``pcg64_next_double``: step the LCG, output its XSL-RR 64 bits, keep 53."""
    low, high = pcg64_word_order()

    def codegen(context, builder, signature, args):
        i64, i128 = ir.IntType(64), ir.IntType(128)
        words = _lcg_words(builder, args[0])

        def number(first):  # the 128-bit number whose words start at word ``first``
            return _join_128(
                builder,
                builder.load(_word(builder, words, first + low)),
                builder.load(_word(builder, words, first + high)),
            )

        state = builder.add(builder.mul(number(0), ir.Constant(i128, _PCG64_MULTIPLIER)), number(2))
        low_half, high_half = _store_lcg_state(builder, words, state)
        xored = builder.xor(high_half, low_half)
        rotation = builder.trunc(builder.lshr(state, ir.Constant(i128, 122)), i64)
        rotate_right = cgutils.get_or_insert_function(
            builder.module, ir.FunctionType(i64, [i64, i64, i64]), "llvm.fshr.i64"
        )
        bits = builder.lshr(builder.call(rotate_right, [xored, xored, rotation]), ir.Constant(i64, 11))
        return builder.fmul(builder.uitofp(bits, ir.DoubleType()), ir.Constant(ir.DoubleType(), 2.0**-53))

    return types.float64(types.int64), codegen


@intrinsic
def _pcg64_set(typingctx, state_address, state_words, inc_words, jump_words):
    """Set the PCG64 generator at ``state_address`` to the LCG state ``A s + C inc``
    (mod 2**128), where ``s`` and ``inc`` are 128-bit numbers given as (low, high)
    words and ``jump_words`` is (A low, A high, C low, C high); drop a 32-bit value
    kept back from an earlier draw, as numpy's ``advance`` does."""
    kept_flag, kept_value = PCG64State.has_uint32.offset, PCG64State.uinteger.offset

    def codegen(context, builder, signature, args):
        i8, i32, i64 = ir.IntType(8), ir.IntType(32), ir.IntType(64)
        address = args[0]
        (s_lo, s_hi), (inc_lo, inc_hi), (a_lo, a_hi, c_lo, c_hi) = (cgutils.unpack_tuple(builder, a) for a in args[1:])
        state = builder.add(
            builder.mul(_join_128(builder, a_lo, a_hi), _join_128(builder, s_lo, s_hi)),
            builder.mul(_join_128(builder, c_lo, c_hi), _join_128(builder, inc_lo, inc_hi)),
        )
        _store_lcg_state(builder, _lcg_words(builder, address), state)
        header = builder.inttoptr(address, i8.as_pointer())
        for offset in (kept_flag, kept_value):
            field = builder.bitcast(builder.gep(header, [ir.Constant(i64, offset)]), i32.as_pointer())
            builder.store(ir.Constant(i32, 0), field)
        return context.get_dummy_value()

    words2, words4 = types.UniTuple(types.uint64, 2), types.UniTuple(types.uint64, 4)
    return types.void(types.int64, words2, words2, words4), codegen


@jit
def position_streams(addresses, bases, jump):
    """Set each generator ``addresses[k]`` (a :class:`Stream`'s address) to ``A s + C
    inc`` for its ``bases[k]`` = (s low, s high, inc low, inc high) and ``jump`` = (A
    low, A high, C low, C high): numpy's ``advance`` of the stream from ``s`` by the
    draws that ``jump`` stands for (:class:`abm.population.MonthlyStreams`)."""
    j = (jump[0], jump[1], jump[2], jump[3])
    for k in range(addresses.size):
        b = bases[k]
        _pcg64_set(addresses[k], (b[0], b[1]), (b[2], b[3]), j)


@jit
def uniform(rng):
    """A uniform draw on the open interval (0, 1) (the bit generator's [0, 1) shifted by
    half its resolution), so that its logarithms are finite."""
    return _pcg64_next_double(rng[0]) + 2.0**-54


@jit
def gumbel(rng):
    return -np.log(-np.log(uniform(rng)))


@jit
def gumbels(rng, rows, columns):
    """A (rows x columns) array of independent standard Gumbel draws."""
    out = np.empty((rows, columns))
    for i in range(rows):
        for j in range(columns):
            out[i, j] = gumbel(rng)
    return out


@jit
def geometric(rng, log_failure):
    """Trials up to and including the first success, by inversion; ``log_failure``
    is the log of the probability of failure, ``log1p(-p)``."""
    return np.int64(np.ceil(np.log(uniform(rng)) / log_failure))


@jit
def permutation(rng, n):
    """A random order of ``0 .. n-1`` (Fisher-Yates)."""
    order = np.arange(n)
    for i in range(n - 1, 0, -1):
        j = int(uniform(rng) * (i + 1))
        order[i], order[j] = order[j], order[i]
    return order


@jit
def bernoulli_positions(rng, n, probability):
    """Each of the positions ``0 .. n-1`` independently with ``probability``, as sorted
    indices, drawn as geometric gaps: one draw per chosen position."""
    if n == 0 or probability <= 0:
        return np.empty(0, dtype=np.int64)
    if probability >= 1:
        return np.arange(n)
    expected = n * probability
    out = np.empty(int(expected + 6 * np.sqrt(expected)) + 16, dtype=np.int64)
    log_failure = np.log1p(-probability)
    k, position = 0, -1
    while True:
        # out is not reassigned inside the inner loop, which halves numba's time per
        # position (16 -> 8 ns, measured)
        while k < out.size:
            position += geometric(rng, log_failure)
            if position >= n:
                return out[:k]
            out[k] = position
            k += 1
        out = np.concatenate((out, np.empty(out.size, dtype=np.int64)))


@jit
def draw_considerers(
    rng, pool, month, base_rate, peer_rate, multiplier, max_multiplier, codes, peers, held_a, held_b, excluded
):
    """The places in ``pool`` of its agents who start considering in ``month``, in
    pool order.

    Candidates are drawn at the largest hazard any agent can have, ``p max_multiplier
    + q``, and each is kept with its own probability over the candidates', so that an
    agent whose ``held_a`` and ``held_b`` are zero and who is not ``excluded``
    considers with probability exactly ``1 - exp(-(p m_i + q s_i) dt)`` (``m_i``:
    ``multiplier`` of its flag code, ``s_i``: its peers' mid-month share); other
    agents never do.
    """
    hazard_max = base_rate * max_multiplier + peer_rate
    if hazard_max <= 0:
        return np.empty(0, dtype=np.int64)
    c_max = -np.expm1(-hazard_max * DT_YEARS)
    positions = bernoulli_positions(rng, pool.size, c_max)
    networked = peer_rate > 0 and peers[0].size > 0
    out = np.empty(positions.size, dtype=np.int64)
    k = 0
    for t in range(-2 * AHEAD, positions.size):
        if t + 2 * AHEAD < positions.size:
            prefetch(pool, positions[t + 2 * AHEAD])
        if 0 <= t + AHEAD < positions.size:
            ahead = pool[positions[t + AHEAD]]
            if networked:
                prefetch(peers[2], ahead)
                prefetch(peers[3], ahead)
            prefetch(held_a, ahead)
            prefetch(held_b, ahead)
        if t < 0:
            continue
        position = positions[t]
        i = pool[position]
        u = uniform(rng)  # drawn for every candidate, so draws do not depend on state
        # accept with probability (1 - exp(-hazard dt)) / c_max. Most candidates are
        # rejected on their peers' share alone, with the largest multiplier; 1 - exp(-x)
        # <= x settles them
        share = midmonth_share(peers, i, month) if peer_rate > 0 else 0.0
        v = u * c_max
        if v >= (base_rate * max_multiplier + peer_rate * share) * DT_YEARS:
            continue
        if held_a[i] != 0 or held_b[i] != 0 or excluded[i]:
            continue
        hazard = 0.0
        if base_rate > 0:
            hazard += base_rate * multiplier[codes[i]]
        if peer_rate > 0:
            hazard += peer_rate * share
        # x - x^2/2 <= 1 - exp(-x) <= x settles most of the others without the exponential
        x = hazard * DT_YEARS
        if v < x - 0.5 * x * x or (v < x and v < -np.expm1(-x)):
            out[k] = position
            k += 1
    return out[:k]


# ---------------------------------------------------------------- grants

# choose's slots when every deciding agent is passed
NO_SLOTS = np.empty(0, dtype=np.int64)

# the month's step in a grants tuple (abm.policy.PolicyEnvironment.grants)
MONTH = 3


@jit
def grant_amount(programmes, p, kw, cost_yen):
    """The grant programme ``p`` would pay on a system of ``kw`` costing ``cost_yen``."""
    flat, per_kw, cap, share, band_from, band_to, band_yen, _eligible, _logged = programmes
    amount = flat[p] + per_kw[p] * kw
    for b in range(band_yen.shape[1]):
        if band_from[p, b] <= kw < band_to[p, b]:
            amount += band_yen[p, b]
    return min(min(amount, cap[p]), share[p] * cost_yen)


@jit
def grant_amounts(programmes, p, kw, cost_yen):
    """:func:`grant_amount` for each of several systems."""
    out = np.empty(kw.size)
    for i in range(kw.size):
        out[i] = grant_amount(programmes, p, kw[i], cost_yen[i])
    return out


@jit
def grant_in_order(ledger, p, amounts, weight, arrival_day, row, month):
    """Grant programme ``p``'s applications in order of arrival; who was granted.

    Each simulated applicant stands for ``weight`` real ones. The first application
    that no longer fits the year's budget closes the programme, on its arrival day,
    until the next fiscal year, so a budget is never exceeded. A programme drawing on
    a budget shared with others must fit both its own budget, if it has one, and the
    shared one; when the shared one is what runs out, every programme on it closes.
    """
    spent, grants, closed, exhausted_month, exhausted_day, own_budget, pool_of, pool_spent, pool_budget = ledger
    n = amounts.size
    granted = np.zeros(n, dtype=np.bool_)
    if closed[p] or n == 0:
        return granted
    q = pool_of[p]
    own_limit = (own_budget[p] - spent[row, p]) * (1 + BUDGET_SLACK)
    pool_limit = (pool_budget[q] - pool_spent[row, q]) * (1 + BUDGET_SLACK)
    cost, n_granted = 0.0, n
    for t in range(n):
        after = cost + amounts[t] * weight
        if after > own_limit or after > pool_limit:
            n_granted = t
            break
        cost = after
    granted[:n_granted] = True
    spent[row, p] += cost
    pool_spent[row, q] += cost
    grants[row, p] += n_granted * weight
    if n_granted < n:
        pool_ran_out = cost + amounts[n_granted] * weight > pool_limit
        for other in range(pool_of.size):
            if (other == p or (pool_ran_out and pool_of[other] == q)) and not closed[other]:
                closed[other] = True
                exhausted_month[row, other] = month
                exhausted_day[row, other] = arrival_day[n_granted]
    return granted


@jit
def budget_left(ledger, p, row):
    """What programme ``p`` can still grant this year, yen: the lesser of what is left
    of its own budget and of the one it draws on."""
    q = ledger[6][p]
    return min(ledger[5][p] - ledger[0][row, p], ledger[8][q] - ledger[7][row, q])


@jit
def refund(ledger, p, amount_yen, agents, weight, row):
    """Give back ``amount_yen`` that ``agents`` took and then did not use."""
    ledger[0][row, p] -= amount_yen * weight
    ledger[7][row, ledger[6][p]] -= amount_yen * weight
    ledger[1][row, p] -= agents * weight


@jit
def choose(
    rng,
    noisy,
    yen_to_utility,
    option_kw,
    option_cost,
    offers,
    codes,
    grants,
    weight,
    slots,
    arrivals,
):
    """Each agent's choice among options, with first-come grants and re-decision.

    ``noisy`` is (agents x options): utility without grants plus the agent's taste
    noise. A grant of G yen on option j adds ``yen_to_utility[i, j] * G`` (a single
    column serves every option). ``offers`` is (option, programme) arrays: option
    ``offers[0][o]`` gets programme ``offers[1][o]``'s grant, computed on
    ``option_kw[j]`` and ``option_cost[j]``.
    Agents apply for the grants of the option they prefer; when a budget cannot grant
    every applicant they arrive in a random order over the month's ``days``, and an
    agent refused re-decides without the grant (keeping its taste); a programme that
    ran out (its own or one it shares) is closed to everybody not yet granted. Agents who then leave an option
    give its grants back. ``grants`` is :meth:`abm.policy.PolicyEnvironment.grants`
    for the month; each agent stands for ``weight`` real ones. The order of arrival is
    drawn over ``arrivals`` agents, of whom agent i is number ``slots[i]`` (an empty
    ``slots``: number i), so that a caller may leave out agents who surely choose
    option 0 without changing the draws. Returns (chosen option, grant received) per
    agent.
    """
    programmes, ledger, row, month, days = grants
    m, k = noisy.shape
    if m == 0:
        return np.empty(0, dtype=np.int64), np.empty(0), np.empty(0)
    offer_option, offer_programme = offers
    n_offers = offer_option.size
    one_rate = yen_to_utility.shape[1] == 1
    amount = np.zeros((n_offers, m))
    offered = np.zeros((n_offers, m), dtype=np.bool_)
    granted = np.zeros((n_offers, m), dtype=np.bool_)
    eligible, closed = programmes[7], ledger[2]
    for o in range(n_offers):
        p, j = offer_programme[o], offer_option[o]
        if closed[p]:
            continue
        for i in range(m):
            if eligible[p, codes[i]] and noisy[i, j] > -np.inf:
                a = grant_amount(programmes, p, option_kw[j, i], option_cost[j, i])
                if a > 0:
                    amount[o, i] = a
                    offered[o, i] = True
    chosen = np.empty(m, dtype=np.int64)
    applicants_buffer = np.empty(m, dtype=np.int64)
    rank = np.empty(0, dtype=np.int64)
    arrival_day = np.empty(0, dtype=np.int64)
    while True:
        for i in range(m):
            best, best_j = -np.inf, 0
            for j in range(k):
                g = 0.0
                for o in range(n_offers):
                    if offer_option[o] == j and offered[o, i]:
                        g += amount[o, i]
                v = noisy[i, j]
                if g > 0:
                    v += yen_to_utility[i, 0 if one_rate else j] * g
                if v > best:
                    best, best_j = v, j
            chosen[i] = best_j
        refused = False
        for o in range(n_offers):
            p, j = offer_programme[o], offer_option[o]
            n_applying = 0
            for i in range(m):
                if chosen[i] == j and offered[o, i] and not granted[o, i]:
                    applicants_buffer[n_applying] = i
                    n_applying += 1
            if n_applying == 0:
                continue
            applicants = applicants_buffer[:n_applying]
            amounts = amount[o][applicants]
            if amounts.sum() * weight <= budget_left(ledger, p, row):
                days_of = np.ones(applicants.size, dtype=np.int64)  # all granted: no order needed
            else:
                if rank.size == 0:
                    rank = permutation(rng, arrivals)
                    arrival_day = np.empty(arrivals, dtype=np.int64)
                    for i in range(arrivals):
                        arrival_day[i] = 1 + int(uniform(rng) * days)
                    arrival_day.sort()
                applicant_rank = rank[slots[applicants]] if slots.size else rank[applicants]
                order = np.argsort(applicant_rank)
                applicants = applicants[order]
                amounts = amount[o][applicants]
                days_of = arrival_day[applicant_rank[order]]
            ok = grant_in_order(ledger, p, amounts, weight, days_of, row, month)
            for t in range(applicants.size):
                if ok[t]:
                    granted[o, applicants[t]] = True
            if not ok.all():
                refused = True
                for other in range(n_offers):
                    if closed[offer_programme[other]]:
                        offered[other] &= granted[other]
        if not refused:
            break
    received = np.zeros(m)
    logged_received = np.zeros(m)
    logged = programmes[8]
    for o in range(n_offers):
        for i in range(m):
            if granted[o, i]:
                if chosen[i] == offer_option[o]:
                    received[i] += amount[o, i]
                    if logged[offer_programme[o]]:
                        logged_received[i] += amount[o, i]
                else:
                    refund(ledger, offer_programme[o], amount[o, i], 1, weight, row)
    return chosen, received, logged_received


# ---------------------------------------------------------------- the decisions

# What a decision kernel adds up, per simulated agent (the caller weights it): agents
# drawn to consider adopting, agents deciding, agents choosing an option other than
# the first, agents receiving a grant, grants received (yen), and per decision PV
# bought (kW, systems), PPA capacity (kW), option 2 chosen (ZEH), agents whose
# decision was a life event, PPA contracts, and agents who took up the decision's
# technology less those who gave it up (EVs: petrol owners switching to an EV less EV
# owners switching back).
TALLY = (
    "considering",
    "deciding",
    "adopting",
    "subsidised",
    "grant_yen",
    "pv_kw",
    "pv_systems",
    "ppa_kw",
    "second_option",
    "events",
    "ppa_contracts",
    "net_switches",
)
(
    CONSIDERING, DECIDING, ADOPTING, SUBSIDISED, GRANT_YEN, PV_KW, PV_SYSTEMS, PPA_KW, SECOND_OPTION, EVENTS,
    PPA_CONTRACTS, NET_SWITCHES,
) = range(len(TALLY))  # fmt: skip


# An adoption log (abm.population.adoption_log) is (months, first step): per
# technology and agent, the month (step) of its first adoption and of its first
# adoption with a grant of a logged programme (abm.policy.LOGGED_LEVELS) from the
# first step on, -1 if none; an empty log records nothing.
ADOPTED, GRANTED = range(2)
LOG_PV, LOG_PPA, LOG_ZEH, LOG_EV, LOG_SOLAR_SHARING = range(5)


@jit
def _log_adoption(log, technology, agent, month, logged_grant_yen):
    months, grants_from = log
    if months.shape[2] == 0:
        return
    if months[ADOPTED, technology, agent] < 0:
        months[ADOPTED, technology, agent] = month
    if logged_grant_yen > 0 and month >= grants_from and months[GRANTED, technology, agent] < 0:
        months[GRANTED, technology, agent] = month


@jit
def _choice_arrays(agents, options, rate_columns):
    """Zeroed inputs of :func:`choose` for ``agents`` choosing among ``options``:
    noisy utilities, yen-to-utility rates, option kW and cost, flag codes."""
    return (
        np.zeros((agents, options)),
        np.zeros((agents, rate_columns)),
        np.zeros((options, agents)),
        np.zeros((options, agents)),
        np.zeros(agents, dtype=np.int64),
    )


@jit
def _count(tally, chosen, received):
    tally[DECIDING] += chosen.size
    for t in range(chosen.size):
        if chosen[t] > 0:
            tally[ADOPTING] += 1
        if chosen[t] == 2:
            tally[SECOND_OPTION] += 1
        if received[t] > 0:
            tally[SUBSIDISED] += 1
            tally[GRANT_YEN] += received[t]


@jit
def logit(u):
    """The logistic draw of the uniform ``u`` (inversion)."""
    return np.log(u / (1.0 - u))


@jit
def logistic(rng):
    """The difference of two standard Gumbel draws: the taste for the second of two
    options over the first, from one uniform."""
    return logit(uniform(rng))


# Present-value factors of PV cash flows, the columns of abm.economics.PVFactors
PV_FACTOR_NAMES = (
    "own",  # self-consumption: price trend and degradation, years 1..life
    "fit",  # exports during the FIT term
    "post_fit",  # exports after the FIT term
    "om",  # O&M, years 1..life
    "ppa_during",  # PPA discount on self-consumption during the term
    "ppa_own_after",  # self-consumption after the term (system owned)
    "ppa_export_after",  # exports after the term
    "ppa_om_after",
)
OWN, FIT, POST_FIT, OM, PPA_DURING, PPA_OWN_AFTER, PPA_EXPORT_AFTER, PPA_OM_AFTER = range(len(PV_FACTOR_NAMES))

# A roof owner's row of its population's owner table (abm.population.RooftopPV), by
# its place among the owners: its PV value factors as above, then its roof (kW), the
# attitude part of its utility and the present-value factor of a ZEH's savings; 16
# columns, so that a decision finds all of them in one row of two cache lines.
ROOF_KW, ATTITUDE, ZEH_SAVINGS = range(len(PV_FACTOR_NAMES), len(PV_FACTOR_NAMES) + 3)
OWNER_COLUMNS = 16

# A household's row of the car table (abm.households.HouseholdAppraisal), by agent:
# the present value of 1 yen a year over the years a car buyer appraises, and the
# household's own part of an EV's utility; 16 bytes, one cache line for both.
CAR_FACTOR, EV_OWN_UTILITY = range(2)


# The value functions work one agent at a time here and on arrays of agents in
# abm.economics alike.


@jit
def pv_buy_npv(constants, kw, cost_yen_per_kw, own, fit_factor, post_fit_factor, om_factor, self_share, retail, fit):
    """NPV of buying PV, before grants: self-consumption at the retail price, exports
    at the FIT and then the post-FIT price, less O&M and capital. ``constants`` is
    :attr:`abm.economics.PVEconomics.constants`; ``own`` .. ``om_factor`` are
    present-value factors (:data:`PV_FACTOR_NAMES`)."""
    yield_kwh_per_kw, om, post_fit, _ = constants
    own_value = self_share * retail * own
    export = (1 - self_share) * (fit * fit_factor + post_fit * post_fit_factor)
    return yield_kwh_per_kw * kw * (own_value + export) - kw * (om * om_factor + cost_yen_per_kw)


@jit
def pv_ppa_npv(constants, kw, during, own_after, export_after, om_after, self_share, retail):
    """NPV of a PPA: PV power at a discount during the term, then the system for free."""
    yield_kwh_per_kw, om, post_fit, ppa_discount = constants
    e = yield_kwh_per_kw * kw
    discount = e * self_share * retail * ppa_discount * during
    after = e * (self_share * retail * own_after + (1 - self_share) * post_fit * export_after)
    return discount + after - kw * om * om_after


@jit
def ev_npv(annuity_factor, premium_yen, km_per_year, petrol_yen_per_km, electricity_yen_per_km):
    """NPV of an EV over a petrol car, before grants; ``annuity_factor`` is the
    present value of 1 yen a year over the years the buyer appraises."""
    saving = (petrol_yen_per_km - electricity_yen_per_km) * km_per_year
    return saving * annuity_factor - premium_yen


@jit
def annuity_column(ratio, ratio_power, years, discount, scale, table, column):
    """Annuity factors into ``table[:, column]``, one per agent: the sum of ``ratio ** t``
    for t below ``years`` in closed form, ``(1 - ratio_power) / (1 - ratio)`` (``years``
    where the ratio is within 1e-9 of 1), over ``discount``, times ``scale``.
    :class:`abm.economics.Discounting` computes the powers with numpy, whose vectorised
    ``pow`` rounds differently from the C library's in the last bit now and then."""
    for i in range(ratio.size):
        x = ratio[i]
        series = float(years) if abs(x - 1.0) < 1e-9 else (1.0 - ratio_power[i]) / (1.0 - x)
        table[i, column] = series / discount[i] * scale


@jit
def pv_npv(pv, kw, cost_yen_per_kw, factors, row, self_share, retail, fit):
    """NPV of buying PV for the owner of ``factors``' ``row``."""
    f = factors[row]
    return pv_buy_npv(pv, kw, cost_yen_per_kw, f[OWN], f[FIT], f[POST_FIT], f[OM], self_share, retail, fit)


@jit
def ppa_npv(pv, kw, factors, row, self_share, retail):
    """NPV of a PPA for the owner of ``factors``' ``row``."""
    f = factors[row]
    return pv_ppa_npv(pv, kw, f[PPA_DURING], f[PPA_OWN_AFTER], f[PPA_EXPORT_AFTER], f[PPA_OM_AFTER], self_share, retail)


@jit
def rooftop_pv(
    consider_rng, rng, owners, consideration, codes, excluded, owner_table, peers, pv, year, behaviour, offers,
    grants, weight, pv_kw, ppa_kw, tally, log,
):  # fmt: skip
    """Roof owners who consider PV this month choose among nothing (0), buying PV (1)
    and a PPA (2).

    ``consideration`` is (base rate, peer rate, base-rate multiplier by flag code, its
    largest value) for :func:`draw_considerers`, which draws from ``consider_rng``;
    the choice draws from ``rng``. ``year`` is (cost yen/kW, expected retail price,
    FIT, self-consumption share, joint-purchase participation, its cost reduction,
    PPA maturity); ``behaviour`` is (econ weight, peer weight, buy constant, PPA
    constant, PV bonus by flag code, PPA bonus by flag code); ``owner_table`` has a
    row for each of ``owners`` (:data:`ROOF_KW`). Sets ``pv_kw`` and ``ppa_kw`` of
    those who adopt, counts them as adopting peers, adds to ``tally`` (:data:`TALLY`),
    writes adoptions into ``log`` (:data:`ADOPTED`) and returns the agents who bought PV.
    """
    month = grants[MONTH]
    base_rate, peer_rate, multiplier, max_multiplier = consideration
    considering = draw_considerers(
        consider_rng, owners, month, base_rate, peer_rate, multiplier, max_multiplier, codes, peers, pv_kw, ppa_kw,
        excluded,
    )  # fmt: skip
    if considering.size == 0:
        return owners[:0]
    cost_kw, retail, fit, self_share, participation, reduction, maturity = year
    econ_weight, peer_weight, buy_constant, ppa_constant, pv_bonus, ppa_bonus = behaviour
    m = considering.size
    noisy, yen_to_utility, option_kw, option_cost, agent_codes = _choice_arrays(m, 3, 1)
    for t in range(-AHEAD, m):
        if t + AHEAD < m:
            prefetch(owner_table, considering[t + AHEAD])
            prefetch(owners, considering[t + AHEAD])
        if t < 0:
            continue
        row = considering[t]
        i = owners[row]
        joined = uniform(rng) < participation
        served = uniform(rng) < maturity
        kw = owner_table[row, ROOF_KW]
        cost = cost_kw * (1.0 - reduction if joined else 1.0)
        gross = kw * cost_kw
        code = codes[i]
        agent_codes[t] = code
        common = peer_weight * peer_share(peers, i) + owner_table[row, ATTITUDE]
        rate = econ_weight / gross
        noisy[t, 0] = gumbel(rng)
        buy = buy_constant + rate * pv_npv(pv, kw, cost, owner_table, row, self_share, retail, fit)
        noisy[t, 1] = buy + common + pv_bonus[code] + gumbel(rng)
        if served:  # before PPA providers reach the city nobody is offered one
            ppa = ppa_constant + rate * ppa_npv(pv, kw, owner_table, row, self_share, retail)
            noisy[t, 2] = ppa + common + ppa_bonus[code] + gumbel(rng)
        else:
            noisy[t, 2] = -np.inf
        yen_to_utility[t, 0] = rate  # the same for buying and a PPA
        option_kw[1, t] = option_kw[2, t] = kw
        option_cost[1, t] = kw * cost
        option_cost[2, t] = gross
    chosen, received, logged = choose(
        rng, noisy, yen_to_utility, option_kw, option_cost, offers, agent_codes, grants, weight, NO_SLOTS, m
    )
    _count(tally, chosen, received)
    tally[CONSIDERING] += m
    for t in range(m):
        row = considering[t]
        i = owners[row]
        kw = owner_table[row, ROOF_KW]  # a float32 roof, exactly
        if chosen[t] == 1:
            pv_kw[i] = kw
            tally[PV_KW] += kw
            tally[PV_SYSTEMS] += 1
            _log_adoption(log, LOG_PV, i, month, logged[t])
        elif chosen[t] == 2:
            ppa_kw[i] = kw
            tally[PPA_KW] += kw
            tally[PPA_CONTRACTS] += 1
            _log_adoption(log, LOG_PPA, i, month, logged[t])
    peer_add(peers, month, owners[considering[chosen > 0]], 1)
    return owners[considering[chosen == 1]]


@jit
def build_houses(
    rng, owners, probability, previous, rebuilt, zeh, pv_kw, ppa_kw, codes, owner_table, peers, pv, year, behaviour,
    offers, grants, weight, tally, log,
):  # fmt: skip
    """This month's new detached houses, and what their owners build.

    Owners rebuild with ``probability``; a house with PV or a PPA keeps it, the others
    are marked ``rebuilt`` (those of ``previous`` are unmarked first) and choose a
    standard house (0, closed to them under a PV obligation), one with PV (1) or a ZEH
    with PV (2). ``year`` is (PV cost yen/kW on a new house, expected retail price,
    FIT, self-consumption share, ZEH savings kWh a year, ZEH premium yen, share of new
    houses under the PV obligation); ``behaviour`` is (econ weight, peer weight, PV
    constant, ZEH constant, PV bonus and ZEH bonus by flag code); ``owner_table`` has
    a row for each of ``owners`` (:data:`ROOF_KW`). Counts houses built with PV as
    adopting peers, adds to ``tally`` (``EVENTS``: every new house), writes adoptions
    into ``log`` (a ZEH carries PV, so it is logged as a PV adoption too, with the
    ZEH's grant on the ZEH) and returns the rebuilt houses.
    """
    month = grants[MONTH]
    cost_kw, retail, fit, self_share, zeh_kwh, zeh_premium, mandate_share = year
    econ_weight, peer_weight, pv_constant, zeh_constant, pv_bonus, zeh_bonus = behaviour
    for i in previous:
        rebuilt[i] = False
    places = bernoulli_positions(rng, owners.size, probability)
    rows = np.empty(places.size, dtype=np.int64)  # the deciding owners' rows
    n_rows = 0
    for t in range(-AHEAD, places.size):
        if t + AHEAD < places.size:
            prefetch(pv_kw, owners[places[t + AHEAD]])
            prefetch(ppa_kw, owners[places[t + AHEAD]])
        if t < 0:
            continue
        row = places[t]
        i = owners[row]
        if pv_kw[i] == 0 and ppa_kw[i] == 0:
            rows[n_rows] = row
            n_rows += 1
            rebuilt[i] = True
            zeh[i] = False
    rows = rows[:n_rows]
    deciding = owners[rows]
    m = rows.size  # int64, so that choose is not also compiled for a literal count
    noisy, yen_to_utility, option_kw, option_cost, agent_codes = _choice_arrays(m, 3, 3)
    for t in range(-AHEAD, m):
        if t + AHEAD < m:
            prefetch(owner_table, rows[t + AHEAD])
            if peers[0].size:
                prefetch(peers[2], deciding[t + AHEAD])
        if t < 0:
            continue
        i, row = deciding[t], rows[t]
        mandated = uniform(rng) < mandate_share
        kw = owner_table[row, ROOF_KW]
        gross_pv = kw * cost_kw
        gross_zeh = gross_pv + zeh_premium
        npv = pv_npv(pv, kw, cost_kw, owner_table, row, self_share, retail, fit)
        zeh_npv = npv + zeh_kwh * retail * owner_table[row, ZEH_SAVINGS] - zeh_premium
        code = codes[i] | 1  # a new build
        agent_codes[t] = code
        common = peer_weight * peer_share(peers, i) + owner_table[row, ATTITUDE]
        noisy[t, 0] = -np.inf if mandated else gumbel(rng)
        noisy[t, 1] = pv_constant + econ_weight * npv / gross_pv + common + pv_bonus[code] + gumbel(rng)
        noisy[t, 2] = zeh_constant + econ_weight * zeh_npv / gross_zeh + common + zeh_bonus[code] + gumbel(rng)
        yen_to_utility[t, 1] = econ_weight / gross_pv
        yen_to_utility[t, 2] = econ_weight / gross_zeh
        option_kw[1, t] = option_kw[2, t] = kw
        option_cost[1, t] = gross_pv
        option_cost[2, t] = gross_zeh
    chosen, received, logged = choose(
        rng, noisy, yen_to_utility, option_kw, option_cost, offers, agent_codes, grants, weight, NO_SLOTS, m
    )
    _count(tally, chosen, received)
    tally[EVENTS] += places.size
    for t in range(m):
        i = deciding[t]
        if chosen[t] > 0:
            kw = owner_table[rows[t], ROOF_KW]  # a float32 roof, exactly
            pv_kw[i] = kw
            tally[PV_KW] += kw
            tally[PV_SYSTEMS] += 1
            _log_adoption(log, LOG_PV, i, month, logged[t] if chosen[t] == 1 else 0.0)
        if chosen[t] == 2:
            zeh[i] = True
            _log_adoption(log, LOG_ZEH, i, month, logged[t])
    peer_add(peers, month, deciding[chosen > 0], 1)
    return deciding


@jit
def _ev_utility_bound(
    bounds, rate, premium, gross, km, petrol_per_km, grid_per_km, own_pv_per_km, ev_bonus, offers, grants
):  # fmt: skip
    """The largest utility of an EV over petrol, peers aside, that any car owner can
    have this month, every open grant included: own part, value, bonus."""
    own_max, factor_min, factor_max = bounds
    value_min, value_max = np.inf, -np.inf
    for per_km in (grid_per_km, own_pv_per_km):
        for factor in (factor_min, factor_max):
            value = ev_npv(factor, premium, km, petrol_per_km, per_km)
            value_min, value_max = min(value_min, value), max(value_max, value)
    programmes, ledger = grants[0], grants[1]
    eligible, closed = programmes[7], ledger[2]
    grant = 0.0
    offer_option, offer_programme = offers
    for o in range(offer_option.size):
        p = offer_programme[o]
        if offer_option[o] == 1 and not closed[p] and eligible[p].any():
            grant += max(grant_amount(programmes, p, 0.0, gross), 0.0)
    # value is linear in the factor; a negative economic weight would favour the least
    return own_max + max(rate * (value_max + grant), rate * value_min) + ev_bonus.max()


@jit
def _logistic_floor(bound):
    """The uniform below which a logistic taste :func:`logit` is surely below
    ``-bound``, with a margin for rounding."""
    return 1.0 / (1.0 + np.exp(bound + 1e-6))


@jit
def replace_cars(
    rng, car_owners, probability, ev, pv_kw, rebuilt, codes, car_table, bounds, peers, year, behaviour, offers,
    grants, weight, tally, log,
):  # fmt: skip
    """This month's car replacements: a petrol car (0) or an EV (1).

    ``year`` is (EV premium yen, EV gross price yen, km a year, petrol yen/km,
    electricity yen/km from the grid, from a household's own PV); ``behaviour`` is
    (econ weight, peer weight, EV bonus by flag code). ``car_table`` has a row per
    household (:data:`CAR_FACTOR`, :data:`EV_OWN_UTILITY`); ``bounds`` is (the
    largest own utility, the smallest and the largest car factor) over car owners.
    Counts the households switching to an EV as adopting peers, and those switching
    back to petrol as no longer adopting; adds to ``tally`` (``EVENTS``: replacements),
    writes every EV bought into ``log`` and returns the households switching to an EV.

    Most replacements are settled by the taste draw alone: a petrol owner whose taste
    for an EV is below minus the largest utility any owner could have with every
    grant on offer keeps petrol: its attributes are never read and it does not enter
    the choice (its place in the order of arrival for grants is kept).
    """
    month = grants[MONTH]
    premium, gross, km, petrol_per_km, grid_per_km, own_pv_per_km = year
    econ_weight, peer_weight, ev_bonus = behaviour
    positions = bernoulli_positions(rng, car_owners.size, probability)
    k = positions.size
    rate = econ_weight / gross
    bound = _ev_utility_bound(
        bounds, rate, premium, gross, km, petrol_per_km, grid_per_km, own_pv_per_km, ev_bonus, offers, grants
    )
    taste_floor = _logistic_floor(bound + max(peer_weight, 0.0))  # a peer share of 1
    # the owners not settled by their taste, with their taste and place among the k
    owners = np.empty(k, dtype=np.int64)
    slots = np.empty(k, dtype=np.int64)
    tastes = np.empty(k)
    n = 0
    for t in range(-AHEAD, k):
        if t + AHEAD < k:
            prefetch(car_owners, positions[t + AHEAD])
        if t < 0:
            continue
        i = car_owners[positions[t]]
        u = uniform(rng)
        if u < taste_floor and not ev[i]:
            continue
        owners[n] = i
        slots[n] = t
        tastes[n] = u
        n += 1
    owners, slots = owners[:n], slots[:n]
    noisy, yen_to_utility, option_kw, option_cost, agent_codes = _choice_arrays(n, 2, 1)
    yen_to_utility[:] = rate
    option_cost[:] = gross
    for t in range(-AHEAD, n):
        if t + AHEAD < n:
            prefetch(car_table, owners[t + AHEAD])
            prefetch(pv_kw, owners[t + AHEAD])
            if peers[0].size:
                prefetch(peers[2], owners[t + AHEAD])
                prefetch(peers[3], owners[t + AHEAD])
        if t < 0:
            continue
        i = owners[t]
        code = codes[i] | (1 if rebuilt[i] else 0)
        agent_codes[t] = code
        per_km = own_pv_per_km if pv_kw[i] > 0 else grid_per_km
        npv = ev_npv(car_table[i, CAR_FACTOR], premium, km, petrol_per_km, per_km)
        utility = car_table[i, EV_OWN_UTILITY] + rate * npv + peer_weight * peer_share(peers, i) + ev_bonus[code]
        noisy[t, 1] = utility + logit(tastes[t])
    chosen, received, logged = choose(
        rng, noisy, yen_to_utility, option_kw, option_cost, offers, agent_codes, grants, weight, slots, k
    )
    _count(tally, chosen, received)
    tally[DECIDING] += k - n  # the owners who kept petrol on their taste alone
    tally[EVENTS] += k
    to_ev = np.empty(n, dtype=np.int64)
    to_petrol = np.empty(n, dtype=np.int64)
    n_ev = n_petrol = 0
    for t in range(n):
        i = owners[t]
        if chosen[t] == 1:
            _log_adoption(log, LOG_EV, i, month, logged[t])
        if chosen[t] == 1 and not ev[i]:
            ev[i] = True
            to_ev[n_ev] = i
            n_ev += 1
        elif chosen[t] == 0 and ev[i]:
            ev[i] = False
            to_petrol[n_petrol] = i
            n_petrol += 1
    tally[NET_SWITCHES] += n_ev - n_petrol
    peer_add(peers, month, to_ev[:n_ev], 1)
    peer_add(peers, month, to_petrol[:n_petrol], -1)
    return to_ev[:n_ev]


@jit
def solar_sharing(
    consider_rng, rng, farmers, consideration, codes, nobody, capacity_kw, covered_ha, has_successor, factors,
    peers, pv, year, behaviour, offers, grants, weight, kw_state, tally, log,
):  # fmt: skip
    """Farmers who consider solar sharing this month choose between nothing (0) and
    solar sharing (1).

    ``consideration`` is as for :func:`rooftop_pv`; ``year`` is (cost yen/kW, FIT,
    crop revenue lost yen per ha and year, its present-value factor); ``behaviour``
    is (econ weight, peer weight, constant, successor weight, bonus by flag code).
    Sets ``kw_state`` of adopters, counts them as adopting peers, adds to
    ``tally`` and writes adoptions into ``log``.
    """
    month = grants[MONTH]
    base_rate, peer_rate, multiplier, max_multiplier = consideration
    considering = draw_considerers(
        consider_rng, farmers, month, base_rate, peer_rate, multiplier, max_multiplier, codes, peers, kw_state,
        kw_state, nobody,
    )  # fmt: skip
    if considering.size == 0:
        return
    cost_kw, fit, crop_loss_yen_per_ha, crop_loss_factor = year
    econ_weight, peer_weight, constant, successor_weight, bonus = behaviour
    m = considering.size
    noisy, yen_to_utility, option_kw, option_cost, agent_codes = _choice_arrays(m, 2, 1)
    for t in range(m):
        i = farmers[considering[t]]
        agent_codes[t] = codes[i]
        kw = capacity_kw[i]
        gross = kw * cost_kw
        npv = (
            pv_npv(pv, kw, cost_kw, factors, 0, 0.0, 0.0, fit) - crop_loss_yen_per_ha * covered_ha[i] * crop_loss_factor
        )
        rate = econ_weight / gross
        utility = (
            constant + rate * npv + successor_weight * has_successor[i] + peer_weight * peer_share(peers, i) + bonus[0]
        )
        noisy[t, 1] = utility + logistic(rng)
        yen_to_utility[t, 0] = rate
        option_kw[1, t] = kw
        option_cost[1, t] = gross
    chosen, received, logged = choose(
        rng, noisy, yen_to_utility, option_kw, option_cost, offers, agent_codes, grants, weight, NO_SLOTS, m
    )
    _count(tally, chosen, received)
    tally[CONSIDERING] += m
    for t in range(m):
        if chosen[t] == 1:
            i = farmers[considering[t]]
            kw_state[i] = capacity_kw[i]
            tally[PV_KW] += capacity_kw[i]
            tally[PV_SYSTEMS] += 1
            _log_adoption(log, LOG_SOLAR_SHARING, i, month, logged[t])
    peer_add(peers, month, farmers[considering[chosen == 1]], 1)
