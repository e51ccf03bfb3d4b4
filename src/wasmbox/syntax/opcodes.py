"""The one opcode table: names, binary opcodes and immediate kinds.

Every instruction wasmbox knows is one row of ``_TABLE`` below: its binary
prefix and code, its name, and the kinds of its immediates (see
:mod:`wasmbox.syntax.module` for what each kind's Python value is). The
decoder, encoder, text parser and printer all read this table; nothing else
lists opcodes.

A few rows share a text mnemonic but have distinct binary codes; their
internal name differs and ``Op.text`` gives the mnemonic:

* ``select`` (0x1B, no immediate) and ``select_t`` (0x1C, ``valtypes``),
  both written ``select`` in text.
* ``ref.test``/``ref.test_null`` and ``ref.cast``/``ref.cast_null``: text
  writes ``ref.test (ref null? ht)``; the nullability picks the row.
* ``br_on_cast``/``br_on_cast_fail`` store the binary cast-flags byte; text
  writes two reference types.

Nothing here raises.
"""
from __future__ import annotations

from dataclasses import dataclass

# Prefix bytes. 0 = single-byte opcode.
GC = 0xFB
MISC = 0xFC
SIMD = 0xFD


@dataclass(frozen=True, slots=True)
class Op:
    name: str
    prefix: int  # 0, GC, MISC or SIMD
    code: int
    imms: tuple[str, ...]
    text: str  # the text-format mnemonic

    @property
    def natural_align(self) -> int | None:
        """log2 of the natural alignment of a memory access, else None."""
        return _NATURAL_ALIGN.get(self.name)


# code  name  immediate kinds in binary order ('-' for none)
_TABLE = """
00 unreachable -
01 nop -
02 block bt
03 loop bt
04 if bt
05 else -
06 try bt
07 catch tag
08 throw tag
09 rethrow label
0A throw_ref -
0B end -
0C br label
0D br_if label
0E br_table labels label
0F return -
10 call func
11 call_indirect type table
12 return_call func
13 return_call_indirect type table
14 call_ref type
15 return_call_ref type
18 delegate label
19 catch_all -
1A drop -
1B select -
1C select_t valtypes
1F try_table bt catches
20 local.get local
21 local.set local
22 local.tee local
23 global.get global
24 global.set global
25 table.get table
26 table.set table
28 i32.load memarg
29 i64.load memarg
2A f32.load memarg
2B f64.load memarg
2C i32.load8_s memarg
2D i32.load8_u memarg
2E i32.load16_s memarg
2F i32.load16_u memarg
30 i64.load8_s memarg
31 i64.load8_u memarg
32 i64.load16_s memarg
33 i64.load16_u memarg
34 i64.load32_s memarg
35 i64.load32_u memarg
36 i32.store memarg
37 i64.store memarg
38 f32.store memarg
39 f64.store memarg
3A i32.store8 memarg
3B i32.store16 memarg
3C i64.store8 memarg
3D i64.store16 memarg
3E i64.store32 memarg
3F memory.size mem
40 memory.grow mem
41 i32.const i32
42 i64.const i64
43 f32.const f32
44 f64.const f64
45 i32.eqz -
46 i32.eq -
47 i32.ne -
48 i32.lt_s -
49 i32.lt_u -
4A i32.gt_s -
4B i32.gt_u -
4C i32.le_s -
4D i32.le_u -
4E i32.ge_s -
4F i32.ge_u -
50 i64.eqz -
51 i64.eq -
52 i64.ne -
53 i64.lt_s -
54 i64.lt_u -
55 i64.gt_s -
56 i64.gt_u -
57 i64.le_s -
58 i64.le_u -
59 i64.ge_s -
5A i64.ge_u -
5B f32.eq -
5C f32.ne -
5D f32.lt -
5E f32.gt -
5F f32.le -
60 f32.ge -
61 f64.eq -
62 f64.ne -
63 f64.lt -
64 f64.gt -
65 f64.le -
66 f64.ge -
67 i32.clz -
68 i32.ctz -
69 i32.popcnt -
6A i32.add -
6B i32.sub -
6C i32.mul -
6D i32.div_s -
6E i32.div_u -
6F i32.rem_s -
70 i32.rem_u -
71 i32.and -
72 i32.or -
73 i32.xor -
74 i32.shl -
75 i32.shr_s -
76 i32.shr_u -
77 i32.rotl -
78 i32.rotr -
79 i64.clz -
7A i64.ctz -
7B i64.popcnt -
7C i64.add -
7D i64.sub -
7E i64.mul -
7F i64.div_s -
80 i64.div_u -
81 i64.rem_s -
82 i64.rem_u -
83 i64.and -
84 i64.or -
85 i64.xor -
86 i64.shl -
87 i64.shr_s -
88 i64.shr_u -
89 i64.rotl -
8A i64.rotr -
8B f32.abs -
8C f32.neg -
8D f32.ceil -
8E f32.floor -
8F f32.trunc -
90 f32.nearest -
91 f32.sqrt -
92 f32.add -
93 f32.sub -
94 f32.mul -
95 f32.div -
96 f32.min -
97 f32.max -
98 f32.copysign -
99 f64.abs -
9A f64.neg -
9B f64.ceil -
9C f64.floor -
9D f64.trunc -
9E f64.nearest -
9F f64.sqrt -
A0 f64.add -
A1 f64.sub -
A2 f64.mul -
A3 f64.div -
A4 f64.min -
A5 f64.max -
A6 f64.copysign -
A7 i32.wrap_i64 -
A8 i32.trunc_f32_s -
A9 i32.trunc_f32_u -
AA i32.trunc_f64_s -
AB i32.trunc_f64_u -
AC i64.extend_i32_s -
AD i64.extend_i32_u -
AE i64.trunc_f32_s -
AF i64.trunc_f32_u -
B0 i64.trunc_f64_s -
B1 i64.trunc_f64_u -
B2 f32.convert_i32_s -
B3 f32.convert_i32_u -
B4 f32.convert_i64_s -
B5 f32.convert_i64_u -
B6 f32.demote_f64 -
B7 f64.convert_i32_s -
B8 f64.convert_i32_u -
B9 f64.convert_i64_s -
BA f64.convert_i64_u -
BB f64.promote_f32 -
BC i32.reinterpret_f32 -
BD i64.reinterpret_f64 -
BE f32.reinterpret_i32 -
BF f64.reinterpret_i64 -
C0 i32.extend8_s -
C1 i32.extend16_s -
C2 i64.extend8_s -
C3 i64.extend16_s -
C4 i64.extend32_s -
D0 ref.null heap
D1 ref.is_null -
D2 ref.func func
D3 ref.eq -
D4 ref.as_non_null -
D5 br_on_null label
D6 br_on_non_null label
E0 cont.new type
E1 cont.bind type type
E2 suspend tag
E3 resume type handlers
E4 resume_throw type tag handlers
E5 resume_throw_ref type handlers
E6 switch type tag
FB:00 struct.new type
FB:01 struct.new_default type
FB:02 struct.get type field
FB:03 struct.get_s type field
FB:04 struct.get_u type field
FB:05 struct.set type field
FB:06 array.new type
FB:07 array.new_default type
FB:08 array.new_fixed type u32
FB:09 array.new_data type data
FB:0A array.new_elem type elem
FB:0B array.get type
FB:0C array.get_s type
FB:0D array.get_u type
FB:0E array.set type
FB:0F array.len -
FB:10 array.fill type
FB:11 array.copy type type
FB:12 array.init_data type data
FB:13 array.init_elem type elem
FB:14 ref.test heap
FB:15 ref.test_null heap
FB:16 ref.cast heap
FB:17 ref.cast_null heap
FB:18 br_on_cast castflags label heap heap
FB:19 br_on_cast_fail castflags label heap heap
FB:1A any.convert_extern -
FB:1B extern.convert_any -
FB:1C ref.i31 -
FB:1D i31.get_s -
FB:1E i31.get_u -
FC:00 i32.trunc_sat_f32_s -
FC:01 i32.trunc_sat_f32_u -
FC:02 i32.trunc_sat_f64_s -
FC:03 i32.trunc_sat_f64_u -
FC:04 i64.trunc_sat_f32_s -
FC:05 i64.trunc_sat_f32_u -
FC:06 i64.trunc_sat_f64_s -
FC:07 i64.trunc_sat_f64_u -
FC:08 memory.init data mem
FC:09 data.drop data
FC:0A memory.copy mem mem
FC:0B memory.fill mem
FC:0C table.init elem table
FC:0D elem.drop elem
FC:0E table.copy table table
FC:0F table.grow table
FC:10 table.size table
FC:11 table.fill table
FC:13 i64.add128 -
FC:14 i64.sub128 -
FC:15 i64.mul_wide_s -
FC:16 i64.mul_wide_u -
FD:00 v128.load memarg
FD:01 v128.load8x8_s memarg
FD:02 v128.load8x8_u memarg
FD:03 v128.load16x4_s memarg
FD:04 v128.load16x4_u memarg
FD:05 v128.load32x2_s memarg
FD:06 v128.load32x2_u memarg
FD:07 v128.load8_splat memarg
FD:08 v128.load16_splat memarg
FD:09 v128.load32_splat memarg
FD:0A v128.load64_splat memarg
FD:0B v128.store memarg
FD:0C v128.const v128
FD:0D i8x16.shuffle shuffle
FD:0E i8x16.swizzle -
FD:0F i8x16.splat -
FD:10 i16x8.splat -
FD:11 i32x4.splat -
FD:12 i64x2.splat -
FD:13 f32x4.splat -
FD:14 f64x2.splat -
FD:15 i8x16.extract_lane_s lane
FD:16 i8x16.extract_lane_u lane
FD:17 i8x16.replace_lane lane
FD:18 i16x8.extract_lane_s lane
FD:19 i16x8.extract_lane_u lane
FD:1A i16x8.replace_lane lane
FD:1B i32x4.extract_lane lane
FD:1C i32x4.replace_lane lane
FD:1D i64x2.extract_lane lane
FD:1E i64x2.replace_lane lane
FD:1F f32x4.extract_lane lane
FD:20 f32x4.replace_lane lane
FD:21 f64x2.extract_lane lane
FD:22 f64x2.replace_lane lane
FD:23 i8x16.eq -
FD:24 i8x16.ne -
FD:25 i8x16.lt_s -
FD:26 i8x16.lt_u -
FD:27 i8x16.gt_s -
FD:28 i8x16.gt_u -
FD:29 i8x16.le_s -
FD:2A i8x16.le_u -
FD:2B i8x16.ge_s -
FD:2C i8x16.ge_u -
FD:2D i16x8.eq -
FD:2E i16x8.ne -
FD:2F i16x8.lt_s -
FD:30 i16x8.lt_u -
FD:31 i16x8.gt_s -
FD:32 i16x8.gt_u -
FD:33 i16x8.le_s -
FD:34 i16x8.le_u -
FD:35 i16x8.ge_s -
FD:36 i16x8.ge_u -
FD:37 i32x4.eq -
FD:38 i32x4.ne -
FD:39 i32x4.lt_s -
FD:3A i32x4.lt_u -
FD:3B i32x4.gt_s -
FD:3C i32x4.gt_u -
FD:3D i32x4.le_s -
FD:3E i32x4.le_u -
FD:3F i32x4.ge_s -
FD:40 i32x4.ge_u -
FD:41 f32x4.eq -
FD:42 f32x4.ne -
FD:43 f32x4.lt -
FD:44 f32x4.gt -
FD:45 f32x4.le -
FD:46 f32x4.ge -
FD:47 f64x2.eq -
FD:48 f64x2.ne -
FD:49 f64x2.lt -
FD:4A f64x2.gt -
FD:4B f64x2.le -
FD:4C f64x2.ge -
FD:4D v128.not -
FD:4E v128.and -
FD:4F v128.andnot -
FD:50 v128.or -
FD:51 v128.xor -
FD:52 v128.bitselect -
FD:53 v128.any_true -
FD:54 v128.load8_lane memarg lane
FD:55 v128.load16_lane memarg lane
FD:56 v128.load32_lane memarg lane
FD:57 v128.load64_lane memarg lane
FD:58 v128.store8_lane memarg lane
FD:59 v128.store16_lane memarg lane
FD:5A v128.store32_lane memarg lane
FD:5B v128.store64_lane memarg lane
FD:5C v128.load32_zero memarg
FD:5D v128.load64_zero memarg
FD:5E f32x4.demote_f64x2_zero -
FD:5F f64x2.promote_low_f32x4 -
FD:60 i8x16.abs -
FD:61 i8x16.neg -
FD:62 i8x16.popcnt -
FD:63 i8x16.all_true -
FD:64 i8x16.bitmask -
FD:65 i8x16.narrow_i16x8_s -
FD:66 i8x16.narrow_i16x8_u -
FD:67 f32x4.ceil -
FD:68 f32x4.floor -
FD:69 f32x4.trunc -
FD:6A f32x4.nearest -
FD:6B i8x16.shl -
FD:6C i8x16.shr_s -
FD:6D i8x16.shr_u -
FD:6E i8x16.add -
FD:6F i8x16.add_sat_s -
FD:70 i8x16.add_sat_u -
FD:71 i8x16.sub -
FD:72 i8x16.sub_sat_s -
FD:73 i8x16.sub_sat_u -
FD:74 f64x2.ceil -
FD:75 f64x2.floor -
FD:76 i8x16.min_s -
FD:77 i8x16.min_u -
FD:78 i8x16.max_s -
FD:79 i8x16.max_u -
FD:7A f64x2.trunc -
FD:7B i8x16.avgr_u -
FD:7C i16x8.extadd_pairwise_i8x16_s -
FD:7D i16x8.extadd_pairwise_i8x16_u -
FD:7E i32x4.extadd_pairwise_i16x8_s -
FD:7F i32x4.extadd_pairwise_i16x8_u -
FD:80 i16x8.abs -
FD:81 i16x8.neg -
FD:82 i16x8.q15mulr_sat_s -
FD:83 i16x8.all_true -
FD:84 i16x8.bitmask -
FD:85 i16x8.narrow_i32x4_s -
FD:86 i16x8.narrow_i32x4_u -
FD:87 i16x8.extend_low_i8x16_s -
FD:88 i16x8.extend_high_i8x16_s -
FD:89 i16x8.extend_low_i8x16_u -
FD:8A i16x8.extend_high_i8x16_u -
FD:8B i16x8.shl -
FD:8C i16x8.shr_s -
FD:8D i16x8.shr_u -
FD:8E i16x8.add -
FD:8F i16x8.add_sat_s -
FD:90 i16x8.add_sat_u -
FD:91 i16x8.sub -
FD:92 i16x8.sub_sat_s -
FD:93 i16x8.sub_sat_u -
FD:94 f64x2.nearest -
FD:95 i16x8.mul -
FD:96 i16x8.min_s -
FD:97 i16x8.min_u -
FD:98 i16x8.max_s -
FD:99 i16x8.max_u -
FD:9B i16x8.avgr_u -
FD:9C i16x8.extmul_low_i8x16_s -
FD:9D i16x8.extmul_high_i8x16_s -
FD:9E i16x8.extmul_low_i8x16_u -
FD:9F i16x8.extmul_high_i8x16_u -
FD:A0 i32x4.abs -
FD:A1 i32x4.neg -
FD:A3 i32x4.all_true -
FD:A4 i32x4.bitmask -
FD:A7 i32x4.extend_low_i16x8_s -
FD:A8 i32x4.extend_high_i16x8_s -
FD:A9 i32x4.extend_low_i16x8_u -
FD:AA i32x4.extend_high_i16x8_u -
FD:AB i32x4.shl -
FD:AC i32x4.shr_s -
FD:AD i32x4.shr_u -
FD:AE i32x4.add -
FD:B1 i32x4.sub -
FD:B5 i32x4.mul -
FD:B6 i32x4.min_s -
FD:B7 i32x4.min_u -
FD:B8 i32x4.max_s -
FD:B9 i32x4.max_u -
FD:BA i32x4.dot_i16x8_s -
FD:BC i32x4.extmul_low_i16x8_s -
FD:BD i32x4.extmul_high_i16x8_s -
FD:BE i32x4.extmul_low_i16x8_u -
FD:BF i32x4.extmul_high_i16x8_u -
FD:C0 i64x2.abs -
FD:C1 i64x2.neg -
FD:C3 i64x2.all_true -
FD:C4 i64x2.bitmask -
FD:C7 i64x2.extend_low_i32x4_s -
FD:C8 i64x2.extend_high_i32x4_s -
FD:C9 i64x2.extend_low_i32x4_u -
FD:CA i64x2.extend_high_i32x4_u -
FD:CB i64x2.shl -
FD:CC i64x2.shr_s -
FD:CD i64x2.shr_u -
FD:CE i64x2.add -
FD:D1 i64x2.sub -
FD:D5 i64x2.mul -
FD:D6 i64x2.eq -
FD:D7 i64x2.ne -
FD:D8 i64x2.lt_s -
FD:D9 i64x2.gt_s -
FD:DA i64x2.le_s -
FD:DB i64x2.ge_s -
FD:DC i64x2.extmul_low_i32x4_s -
FD:DD i64x2.extmul_high_i32x4_s -
FD:DE i64x2.extmul_low_i32x4_u -
FD:DF i64x2.extmul_high_i32x4_u -
FD:E0 f32x4.abs -
FD:E1 f32x4.neg -
FD:E3 f32x4.sqrt -
FD:E4 f32x4.add -
FD:E5 f32x4.sub -
FD:E6 f32x4.mul -
FD:E7 f32x4.div -
FD:E8 f32x4.min -
FD:E9 f32x4.max -
FD:EA f32x4.pmin -
FD:EB f32x4.pmax -
FD:EC f64x2.abs -
FD:ED f64x2.neg -
FD:EF f64x2.sqrt -
FD:F0 f64x2.add -
FD:F1 f64x2.sub -
FD:F2 f64x2.mul -
FD:F3 f64x2.div -
FD:F4 f64x2.min -
FD:F5 f64x2.max -
FD:F6 f64x2.pmin -
FD:F7 f64x2.pmax -
FD:F8 i32x4.trunc_sat_f32x4_s -
FD:F9 i32x4.trunc_sat_f32x4_u -
FD:FA f32x4.convert_i32x4_s -
FD:FB f32x4.convert_i32x4_u -
FD:FC i32x4.trunc_sat_f64x2_s_zero -
FD:FD i32x4.trunc_sat_f64x2_u_zero -
FD:FE f64x2.convert_low_i32x4_s -
FD:FF f64x2.convert_low_i32x4_u -
FD:100 i8x16.relaxed_swizzle -
FD:101 i32x4.relaxed_trunc_f32x4_s -
FD:102 i32x4.relaxed_trunc_f32x4_u -
FD:103 i32x4.relaxed_trunc_f64x2_s_zero -
FD:104 i32x4.relaxed_trunc_f64x2_u_zero -
FD:105 f32x4.relaxed_madd -
FD:106 f32x4.relaxed_nmadd -
FD:107 f64x2.relaxed_madd -
FD:108 f64x2.relaxed_nmadd -
FD:109 i8x16.relaxed_laneselect -
FD:10A i16x8.relaxed_laneselect -
FD:10B i32x4.relaxed_laneselect -
FD:10C i64x2.relaxed_laneselect -
FD:10D f32x4.relaxed_min -
FD:10E f32x4.relaxed_max -
FD:10F f64x2.relaxed_min -
FD:110 f64x2.relaxed_max -
FD:111 i16x8.relaxed_q15mulr_s -
FD:112 i16x8.relaxed_dot_i8x16_i7x16_s -
FD:113 i32x4.relaxed_dot_i8x16_i7x16_add_s -
"""

_TEXT_NAMES = {
    "select_t": "select",
    "ref.test_null": "ref.test",
    "ref.cast_null": "ref.cast",
}

# log2 of the natural alignment of every memory access instruction.
_NATURAL_ALIGN: dict[str, int] = {}


def _build() -> tuple[dict[str, Op], dict[tuple[int, int], Op]]:
    by_name: dict[str, Op] = {}
    by_code: dict[tuple[int, int], Op] = {}
    for line in _TABLE.strip().splitlines():
        code_s, name, *imm_kinds = line.split()
        if ":" in code_s:
            pre_s, sub_s = code_s.split(":")
            prefix, code = int(pre_s, 16), int(sub_s, 16)
        else:
            prefix, code = 0, int(code_s, 16)
        imms = tuple(k for k in imm_kinds if k != "-")
        op = Op(name, prefix, code, imms, _TEXT_NAMES.get(name, name))
        by_name[name] = op
        by_code[(prefix, code)] = op
    return by_name, by_code


OPS, OPS_BY_CODE = _build()

# Single-byte opcodes indexed directly, for the decoder's hot loop.
OPS_BY_BYTE: list[Op | None] = [None] * 256
for (_p, _c), _op in OPS_BY_CODE.items():
    if _p == 0:
        OPS_BY_BYTE[_c] = _op


def _natural_align(name: str) -> int | None:
    if name.startswith("memory.") or "." not in name:
        return None
    ty, _, rest = name.partition(".")
    if "load" not in rest and "store" not in rest:
        return None
    for width, log2 in (("8", 0), ("16", 1), ("32", 2), ("64", 3)):
        if rest.endswith(width + "_lane"):
            return log2
    if ty == "v128":
        if "x" in rest:  # load8x8_s etc: 64 bits
            return 3
        for width, log2 in (("8", 0), ("16", 1), ("32", 2), ("64", 3)):
            if rest.startswith(f"load{width}_"):
                return log2
        return 4
    for width, log2 in (("8", 0), ("16", 1), ("32", 2)):
        if rest.startswith(f"load{width}_") or rest == f"store{width}":
            return log2
    return {"i32": 2, "f32": 2, "i64": 3, "f64": 3}[ty]


for _name, _op in OPS.items():
    if "memarg" in _op.imms:
        _NATURAL_ALIGN[_name] = _natural_align(_name)  # type: ignore[assignment]

# Instructions that open a block; ``end`` closes each of them.
BLOCK_OPENERS = frozenset({"block", "loop", "if", "try", "try_table"})
