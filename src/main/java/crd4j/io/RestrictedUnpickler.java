package crd4j.io;

import java.io.EOFException;
import java.io.IOException;
import java.math.BigInteger;
import java.nio.charset.StandardCharsets;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.HashMap;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.Objects;

/**
 * A pickle interpreter that can read what {@code torch.save} writes for state dicts and nothing more. Python's own
 * unpickler calls whatever callable the file names; this one never executes anything: globals are resolved against a
 * fixed whitelist of names it interprets itself ({@link Callable}), and any other global is refused when it is
 * <em>named</em>, before it could be called.
 *
 * <p>Opcodes: everything {@code torch.save} emits with its default protocol 2 (PROTO, EMPTY_DICT/LIST/TUPLE, MARK,
 * TUPLE/TUPLE1-3, BININT/BININT1/BININT2/LONG1, BINFLOAT, BINUNICODE, NONE, NEWTRUE/NEWFALSE, BINPUT/LONG_BINPUT,
 * BINGET/LONG_BINGET, SETITEM(S), APPEND(S), GLOBAL, REDUCE, BUILD, BINPERSID, STOP) plus the binary opcodes of
 * protocols 3-5 that the same objects produce with {@code pickle_protocol=4/5} (FRAME, MEMOIZE, STACK_GLOBAL,
 * SHORT_BINUNICODE, BINUNICODE8, (SHORT_)BINBYTES(8)), the harmless stack opcodes POP/POP_MARK/DUP, and the Python 2
 * era string opcodes. Text-mode protocol 0/1 opcodes, sets, extension registry codes and out-of-band buffers are
 * refused.
 *
 * <p>Python values become: None → null, bool → Boolean, int → Long (BigInteger beyond 64 bits), float → Double,
 * str → String, bytes → byte[], list → ArrayList, dict and OrderedDict → LinkedHashMap, tuple → {@link Tuple},
 * tensors → {@link TensorRef} (materialised later by the caller, because legacy files store the bytes after the
 * pickle), persistent ids → whatever the {@link PersistentLoader} returns.
 */
final class RestrictedUnpickler {

    /** The element layout of a {@code torch.*Storage} class. */
    enum StorageType {
        FLOAT("FloatStorage", ElementCodec.F32),
        DOUBLE("DoubleStorage", ElementCodec.F64),
        HALF("HalfStorage", ElementCodec.F16),
        BFLOAT16("BFloat16Storage", ElementCodec.BF16),
        LONG("LongStorage", ElementCodec.I64),
        INT("IntStorage", ElementCodec.I32),
        BYTE("ByteStorage", ElementCodec.U8),
        BOOL("BoolStorage", ElementCodec.BOOL);

        final String className;
        final ElementCodec codec;

        StorageType(String className, ElementCodec codec) {
            this.className = className;
            this.codec = codec;
        }
    }

    /** What a whitelisted global stands for; the interpretation is Java code in {@link #reduce}. */
    enum Callable { ORDERED_DICT, REBUILD_TENSOR_V2, REBUILD_PARAMETER, REBUILD_PARAMETER_WITH_STATE, STORAGE_CLASS }

    /** A resolved whitelisted global. {@code storage} is set only for storage classes. */
    record Global(String name, Callable kind, StorageType storage) {}

    private static final Map<String, Global> WHITELIST = new HashMap<>();

    static {
        allow(new Global("collections.OrderedDict", Callable.ORDERED_DICT, null));
        allow(new Global("torch._utils._rebuild_tensor_v2", Callable.REBUILD_TENSOR_V2, null));
        allow(new Global("torch._utils._rebuild_parameter", Callable.REBUILD_PARAMETER, null));
        allow(new Global("torch._utils._rebuild_parameter_with_state", Callable.REBUILD_PARAMETER_WITH_STATE, null));
        for (StorageType t : StorageType.values()) {
            allow(new Global("torch." + t.className, Callable.STORAGE_CLASS, t));
        }
    }

    private static void allow(Global g) { WHITELIST.put(g.name(), g); }

    /**
     * A Python tuple. Equality is identity: tuples are never dict keys here (see {@link #put}), so nothing compares or
     * hashes them by content, which on a DAG of shared tuples would walk exponentially many paths. {@code depth} is
     * the nesting depth of tuples inside it (1 for a tuple holding no tuple), known at construction because its
     * items are complete objects.
     */
    static final class Tuple {
        final Object[] items;
        final int depth;

        Tuple(Object... items) {
            this.items = items;
            int d = 0;
            for (Object o : items) if (o instanceof Tuple t && t.depth > d) d = t.depth;
            this.depth = d + 1;
        }

        int size() { return items.length; }

        Object get(int i) { return items[i]; }

        @Override public String toString() { return "tuple of " + items.length; }
    }

    /**
     * A storage as named by a persistent id: {@code key} identifies the bytes, {@code numel} counts elements of
     * {@code type}. A legacy view storage covers {@code [viewOffset, viewOffset + viewNumel)} of the root.
     */
    record StorageRef(String key, StorageType type, long numel, long viewOffset, long viewNumel) {}

    /** A tensor waiting for its storage bytes: {@code torch._utils._rebuild_tensor_v2}'s arguments. */
    record TensorRef(StorageRef storage, long offset, long[] size, long[] stride) {}

    /** Turns a persistent id (the tuple torch writes in place of a storage) into a value. */
    @FunctionalInterface
    interface PersistentLoader {
        Object load(Object pid) throws IOException;
    }

    private static final int MAX_LINE = 256;
    /**
     * Deepest tuple nesting accepted. A state_dict nests tuples two levels deep (a persistent id holding a size
     * tuple); the converter in {@link TorchCheckpoint} bounds dicts and lists to the same depth.
     */
    static final int MAX_DEPTH = 1000;
    /**
     * Most values one pickle may create (every push counts: ints, strings, containers, tensors; so do MARKs and memo
     * entries, which hold memory too). A paper-preset teacher state_dict creates about 10^4, a training checkpoint with
     * optimizer state a few 10^5; the bound keeps a hostile stream of one-byte opcodes (EMPTY_LIST repeated) from
     * filling the heap before STOP.
     */
    static final long MAX_VALUES = 1L << 22;

    private final Path file;
    private final String context;
    private final PickleInput in;
    private final PersistentLoader persistent;
    private final ArrayList<Object> stack = new ArrayList<>();
    private final ArrayList<Integer> marks = new ArrayList<>();
    /** Byte offset of each open MARK, for the message when one is never closed. */
    private final ArrayList<Long> markAt = new ArrayList<>();
    private final HashMap<Long, Object> memo = new HashMap<>();
    private long opStart;
    private long values;

    /**
     * @param context where the pickle sits, for messages (an archive entry name, "pickle 4 of the legacy file")
     * @param persistent handles BINPERSID; null refuses persistent ids
     */
    RestrictedUnpickler(Path file, String context, PickleInput in, PersistentLoader persistent) {
        this.file = file;
        this.context = context;
        this.in = in;
        this.persistent = persistent;
    }

    /** Reads one pickle, up to and including its STOP opcode, and returns the object it builds. */
    Object load() throws IOException {
        try {
            return run();
        } catch (EOFException e) {
            throw new WeightsFormatException(file, "truncated: " + context + " ends at byte " + in.position()
                    + " before its STOP opcode", e);
        } catch (WeightsFormatException e) {
            throw e;
        } catch (IOException | RuntimeException e) {
            throw fail("unreadable pickle data (" + (e.getMessage() != null ? e.getMessage() : e.getClass().getSimpleName())
                    + ")", e);
        }
    }

    private Object run() throws IOException {
        while (true) {
            opStart = in.position();
            int op = in.u8();
            switch (op) {
                case 0x80 -> { // PROTO
                    int proto = in.u8();
                    if (proto > 5) throw fail("unsupported pickle protocol " + proto);
                }
                case 0x95 -> in.uLE(8); // FRAME: framing is only a read-ahead hint
                case '.' -> { // STOP
                    if (!marks.isEmpty()) {
                        throw fail("STOP inside an unclosed MARK: the MARK opcode at byte " + markAt.get(markAt.size() - 1)
                                + " has no TUPLE, APPENDS, SETITEMS or POP_MARK closing it (" + marks.size()
                                + " open in all; the pickle is damaged or not written by torch.save)");
                    }
                    if (stack.size() != 1) {
                        throw fail("STOP with " + stack.size() + " objects on the stack (expected exactly 1; the pickle is"
                                + " damaged or not written by torch.save)");
                    }
                    return stack.remove(0);
                }
                case '(' -> { // MARK
                    count();
                    marks.add(stack.size());
                    markAt.add(opStart);
                }
                case '0' -> pop(); // POP
                case '1' -> popMark(); // POP_MARK
                case '2' -> push(peek()); // DUP
                case ')' -> push(tuple()); // EMPTY_TUPLE
                case 't' -> push(tuple(popMark().toArray())); // TUPLE
                case 0x85 -> push(tuple(pop())); // TUPLE1
                case 0x86 -> { // TUPLE2
                    Object b = pop();
                    Object a = pop();
                    push(tuple(a, b));
                }
                case 0x87 -> { // TUPLE3
                    Object c = pop();
                    Object b = pop();
                    Object a = pop();
                    push(tuple(a, b, c));
                }
                case ']' -> push(new ArrayList<>()); // EMPTY_LIST
                case '}' -> push(new LinkedHashMap<>()); // EMPTY_DICT
                case 'a' -> { // APPEND
                    Object v = pop();
                    list(peek(), "APPEND").add(v);
                }
                case 'e' -> { // APPENDS
                    List<Object> items = popMark();
                    list(peek(), "APPENDS").addAll(items);
                }
                case 's' -> { // SETITEM
                    Object v = pop();
                    Object k = pop();
                    put(dict(peek(), "SETITEM"), k, v);
                }
                case 'u' -> { // SETITEMS
                    List<Object> items = popMark();
                    Map<Object, Object> d = dict(peek(), "SETITEMS");
                    if (items.size() % 2 != 0) throw fail("SETITEMS with an odd number of items");
                    for (int i = 0; i < items.size(); i += 2) put(d, items.get(i), items.get(i + 1));
                }
                case 'J' -> push((long) (int) in.uLE(4)); // BININT
                case 'K' -> push((long) in.u8()); // BININT1
                case 'M' -> push(in.uLE(2)); // BININT2
                case 0x8a -> push(longFrom(in.bytes(in.u8()))); // LONG1
                case 0x8b -> { // LONG4
                    long n = (int) in.uLE(4);
                    if (n < 0) throw fail("LONG4 with negative length");
                    push(longFrom(in.bytes(n)));
                }
                case 'G' -> { // BINFLOAT: big-endian IEEE double
                    long bits = 0;
                    for (int i = 0; i < 8; i++) bits = (bits << 8) | in.u8();
                    push(Double.longBitsToDouble(bits));
                }
                case 'X' -> push(utf8(in.bytes(in.uLE(4)))); // BINUNICODE
                case 0x8c -> push(utf8(in.bytes(in.u8()))); // SHORT_BINUNICODE
                case 0x8d -> push(utf8(in.bytes(length8()))); // BINUNICODE8
                case 'T' -> { // BINSTRING (Python 2 str): decoded as latin-1 so every byte survives
                    long n = (int) in.uLE(4);
                    if (n < 0) throw fail("BINSTRING with negative length");
                    push(new String(in.bytes(n), StandardCharsets.ISO_8859_1));
                }
                case 'U' -> push(new String(in.bytes(in.u8()), StandardCharsets.ISO_8859_1)); // SHORT_BINSTRING
                case 'B' -> push(in.bytes(in.uLE(4))); // BINBYTES
                case 'C' -> push(in.bytes(in.u8())); // SHORT_BINBYTES
                case 0x8e -> push(in.bytes(length8())); // BINBYTES8
                case 'N' -> push(null); // NONE
                case 0x88 -> push(Boolean.TRUE); // NEWTRUE
                case 0x89 -> push(Boolean.FALSE); // NEWFALSE
                case 'q' -> memoPut(in.u8()); // BINPUT
                case 'r' -> memoPut(in.uLE(4)); // LONG_BINPUT
                case 0x94 -> memoPut(memo.size()); // MEMOIZE
                case 'h' -> push(memoGet(in.u8())); // BINGET
                case 'j' -> push(memoGet(in.uLE(4))); // LONG_BINGET
                case 'c' -> { // GLOBAL "module\nname\n"
                    String module = utf8(in.line(MAX_LINE));
                    String name = utf8(in.line(MAX_LINE));
                    push(resolve(module, name));
                }
                case 0x93 -> { // STACK_GLOBAL
                    Object name = pop();
                    Object module = pop();
                    if (!(module instanceof String m) || !(name instanceof String n)) {
                        throw fail("STACK_GLOBAL expects two strings");
                    }
                    push(resolve(m, n));
                }
                case 'R' -> { // REDUCE
                    Object args = pop();
                    Object fn = pop();
                    push(reduce(fn, args));
                }
                case 0x81 -> { // NEWOBJ: cls.__new__(cls, *args); only an empty OrderedDict makes sense here
                    Object args = pop();
                    Object cls = pop();
                    if (cls instanceof Global g && g.kind() == Callable.ORDERED_DICT
                            && args instanceof Tuple t && t.size() == 0) {
                        push(new LinkedHashMap<>());
                    } else {
                        throw fail("NEWOBJ on " + describe(cls) + " is not allowed");
                    }
                }
                case 'b' -> { // BUILD
                    Object state = pop();
                    build(peek(), state);
                }
                case 'Q' -> { // BINPERSID
                    Object pid = pop();
                    if (persistent == null) throw fail("persistent id found where none is allowed");
                    push(persistent.load(pid));
                }
                default -> throw fail(String.format("unsupported pickle opcode 0x%02x%s", op,
                        op >= 0x20 && op < 0x7f ? " ('" + (char) op + "')" : ""));
            }
        }
    }

    private Global resolve(String module, String name) throws WeightsFormatException {
        String full = module + "." + name;
        Global g = WHITELIST.get(full);
        if (g == null) {
            throw new WeightsFormatException(file, "refusing pickle global " + WeightsFormatException.quote(full)
                    + " (only state_dict tensors are allowed)");
        }
        return g;
    }

    private Object reduce(Object fn, Object argsObj) throws IOException {
        if (!(fn instanceof Global g)) throw fail("REDUCE on " + describe(fn) + ", which is not callable");
        if (!(argsObj instanceof Tuple args)) throw fail("REDUCE arguments for '" + g.name() + "' are not a tuple");
        switch (g.kind()) {
            case ORDERED_DICT -> {
                LinkedHashMap<Object, Object> d = new LinkedHashMap<>();
                if (args.size() == 0) return d;
                // OrderedDict([(k, v), ...]): the form older Pythons produced.
                if (args.size() == 1 && (args.get(0) instanceof List || args.get(0) instanceof Tuple)) {
                    for (Object pair : items(args.get(0))) {
                        List<Object> kv = pair instanceof List || pair instanceof Tuple ? items(pair) : null;
                        if (kv == null || kv.size() != 2) throw fail("OrderedDict item is not a (key, value) pair");
                        put(d, kv.get(0), kv.get(1));
                    }
                    return d;
                }
                throw fail("unexpected arguments for 'collections.OrderedDict'");
            }
            case REBUILD_TENSOR_V2 -> {
                // (storage, storage_offset, size, stride, requires_grad, backward_hooks[, metadata])
                if (args.size() != 6 && args.size() != 7) {
                    throw fail("'" + g.name() + "' expects 6 or 7 arguments, got " + args.size());
                }
                if (!(args.get(0) instanceof StorageRef storage)) {
                    throw fail("'" + g.name() + "' argument 1 is " + describe(args.get(0)) + ", expected a storage");
                }
                long offset = longArg(g, args.get(1), 2);
                long[] size = longs(g, args.get(2), 3);
                long[] stride = longs(g, args.get(3), 4);
                if (size.length != stride.length) {
                    throw fail("'" + g.name() + "': size " + Arrays.toString(size) + " and stride "
                            + Arrays.toString(stride) + " differ in length");
                }
                if (!(args.get(4) instanceof Boolean)) throw fail("'" + g.name() + "' argument 5 is not a bool");
                if (!(args.get(5) instanceof Map)) throw fail("'" + g.name() + "' argument 6 is not a dict");
                return new TensorRef(storage, offset, size, stride);
            }
            case REBUILD_PARAMETER, REBUILD_PARAMETER_WITH_STATE -> {
                // (data, requires_grad, backward_hooks[, state]): a Parameter is just its data here.
                int want = g.kind() == Callable.REBUILD_PARAMETER ? 3 : 4;
                if (args.size() != want) throw fail("'" + g.name() + "' expects " + want + " arguments, got " + args.size());
                if (!(args.get(0) instanceof TensorRef)) {
                    throw fail("'" + g.name() + "' argument 1 is " + describe(args.get(0)) + ", expected a tensor");
                }
                return args.get(0);
            }
            case STORAGE_CLASS -> throw fail("pickle calls '" + g.name() + "', which a state_dict never does");
            default -> throw new AssertionError(g);
        }
    }

    private void build(Object obj, Object state) throws WeightsFormatException {
        // torch attaches `_metadata` (per-module versions) to state dicts as an attribute; it arrives as BUILD state
        // on the OrderedDict and carries nothing crd4j needs.
        if (obj instanceof Map && (state == null || state instanceof Map || isStatePair(state))) return;
        throw fail("BUILD on " + describe(obj) + " with " + describe(state) + " is not allowed");
    }

    /** {@code (dict_state, slot_state)}, the other shape of pickle's object state. */
    private static boolean isStatePair(Object state) {
        return state instanceof Tuple t && t.size() == 2
                && (t.get(0) == null || t.get(0) instanceof Map) && (t.get(1) == null || t.get(1) instanceof Map);
    }

    private long length8() throws IOException {
        long n = in.uLE(8);
        if (n < 0) throw fail("length out of range");
        return n;
    }

    private static Object longFrom(byte[] le) {
        if (le.length == 0) return 0L;
        byte[] be = new byte[le.length];
        for (int i = 0; i < le.length; i++) be[i] = le[le.length - 1 - i];
        BigInteger v = new BigInteger(be);
        return v.bitLength() < 64 ? (Object) v.longValue() : v;
    }

    private static String utf8(byte[] b) {
        return new String(b, StandardCharsets.UTF_8);
    }

    private long longArg(Global g, Object v, int pos) throws WeightsFormatException {
        if (!(v instanceof Long l)) throw fail("'" + g.name() + "' argument " + pos + " is " + describe(v) + ", expected an int");
        return l;
    }

    private long[] longs(Global g, Object v, int pos) throws WeightsFormatException {
        if (!(v instanceof Tuple t)) throw fail("'" + g.name() + "' argument " + pos + " is " + describe(v) + ", expected a tuple");
        long[] out = new long[t.size()];
        for (int i = 0; i < out.length; i++) out[i] = longArg(g, t.get(i), pos);
        return out;
    }

    private List<Object> items(Object seq) {
        if (seq instanceof Tuple t) return Arrays.asList(t.items);
        @SuppressWarnings("unchecked") List<Object> l = (List<Object>) seq;
        return l;
    }

    @SuppressWarnings("unchecked")
    private List<Object> list(Object o, String op) throws WeightsFormatException {
        if (o instanceof ArrayList) return (List<Object>) o;
        throw fail(op + " on " + describe(o) + ", expected a list");
    }

    @SuppressWarnings("unchecked")
    private Map<Object, Object> dict(Object o, String op) throws WeightsFormatException {
        if (o instanceof LinkedHashMap) return (Map<Object, Object>) o;
        throw fail(op + " on " + describe(o) + ", expected a dict");
    }

    private void put(Map<Object, Object> d, Object k, Object v) throws WeightsFormatException {
        // Only str and int keys, the two a state_dict (str) and an optimizer state (int) ever use; the converter would
        // refuse any other key afterwards anyway. Refusing them here keeps every hash and equality check flat: a tuple
        // key would be hashed and compared by content, which for a tuple nested 200,000 deep overflows the Java stack
        // and for a DAG of shared tuples (each holding the previous one twice) walks 2^depth paths.
        if (!(k instanceof String || k instanceof Long || k instanceof BigInteger)) {
            throw fail("dict key is " + describe(k) + " (a state_dict's keys are str or int)");
        }
        d.put(k, v);
    }

    private Tuple tuple(Object... items) throws WeightsFormatException {
        Tuple t = new Tuple(items);
        if (t.depth > MAX_DEPTH) throw fail("tuples nested deeper than " + MAX_DEPTH + " levels");
        return t;
    }

    private Object memoGet(long idx) throws WeightsFormatException {
        if (!memo.containsKey(idx)) throw fail("memo entry " + idx + " used before it was stored");
        return memo.get(idx);
    }

    private void push(Object o) throws WeightsFormatException {
        count();
        stack.add(o);
    }

    private void memoPut(long idx) throws WeightsFormatException {
        count();
        memo.put(idx, peek());
    }

    /** Counts one value, mark or memo entry against {@link #MAX_VALUES}. */
    private void count() throws WeightsFormatException {
        if (++values > MAX_VALUES) {
            throw fail("more than " + MAX_VALUES + " values, marks and memo entries in one pickle (far more than any"
                    + " state_dict needs)");
        }
    }

    private Object pop() throws WeightsFormatException {
        int floor = marks.isEmpty() ? 0 : marks.get(marks.size() - 1);
        if (stack.size() <= floor) throw fail("stack underflow");
        return stack.remove(stack.size() - 1);
    }

    private Object peek() throws WeightsFormatException {
        int floor = marks.isEmpty() ? 0 : marks.get(marks.size() - 1);
        if (stack.size() <= floor) throw fail("stack underflow");
        return stack.get(stack.size() - 1);
    }

    private List<Object> popMark() throws WeightsFormatException {
        if (marks.isEmpty()) throw fail("no MARK on the stack");
        markAt.remove(markAt.size() - 1);
        int at = marks.remove(marks.size() - 1);
        List<Object> sub = stack.subList(at, stack.size());
        List<Object> out = new ArrayList<>(sub);
        sub.clear();
        return out;
    }

    static String describe(Object o) {
        if (o == null) return "None";
        if (o instanceof Global g) return "'" + g.name() + "'";
        if (o instanceof Map) return "a dict";
        if (o instanceof List) return "a list";
        if (o instanceof Tuple) return "a tuple";
        if (o instanceof String) return "a str";
        if (o instanceof Long || o instanceof BigInteger) return "an int";
        if (o instanceof Double) return "a float";
        if (o instanceof Boolean) return "a bool";
        if (o instanceof byte[]) return "bytes";
        if (o instanceof TensorRef) return "a tensor";
        if (o instanceof StorageRef) return "a storage";
        return Objects.toString(o.getClass().getSimpleName());
    }

    private WeightsFormatException fail(String what) {
        return fail(what, null);
    }

    private WeightsFormatException fail(String what, Throwable cause) {
        return new WeightsFormatException(file, context + ": " + what + " (opcode at byte " + opStart + ")", cause);
    }
}
