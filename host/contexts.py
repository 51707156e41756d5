"""The codec's table of CABAC contexts, registered once in a fixed, normative order.

Context indices are positions in this table, so encoder and decoder must build it identically: every
syntax module's contexts are registered here, in this order, and the table is then frozen.
"""
from __future__ import annotations

from dataclasses import dataclass

from bitstream.contexts import ContextTable
from host.context_init import TRAINED_INIT


@dataclass(frozen=True)
class HostContexts:
    """Base context indices of the coding-tree elements."""
    split_cu_flag: int              # 3 contexts: number of deeper left/above neighbours
    part_mode: int                  # 1
    prev_intra_luma_pred_flag: int  # 1
    intra_chroma_pred_mode: int     # 1
    cbf_luma: int                   # 2: transform block covers the whole CU or not
    cbf_chroma: int                 # 2: same rule
    nn_compress_flag: int           # 9: 3 size classes (32, 64, 128) x number of NN-coded neighbours
    nn_delta_level: int             # 2: first and second bin of the magnitude
    nn_residual_flag: int           # 1
    nn_dc_flag: int                 # 1
    nn_compress_flag_cbcr: int      # 1
    nn_lf_ctb_flag: int             # 6: component (luma, chroma) x number of left/above CTUs filtered
    transform_skip_flag: int        # 2: luma, chroma (registered after the residual contexts)
    cclm_mode_flag: int             # 1
    cclm_mode_idx: int              # 1: first bin
    alf_ctb_flag: int               # 9: component (Y, Cb, Cr) x number of left/above CTUs filtered

    @classmethod
    def register(cls, table: ContextTable) -> "HostContexts":
        """Coding-tree contexts, then the residual ones (host.residual_coding), then transform skip's."""
        from host.residual_coding import register_residual_contexts
        tree = dict(
            split_cu_flag=table.get_or_add("split_cu_flag", 3),
            part_mode=table.get_or_add("part_mode", 1),
            prev_intra_luma_pred_flag=table.get_or_add("prev_intra_luma_pred_flag", 1),
            intra_chroma_pred_mode=table.get_or_add("intra_chroma_pred_mode", 1),
            cbf_luma=table.get_or_add("cbf_luma", 2),
            cbf_chroma=table.get_or_add("cbf_cb_cr", 2),
            nn_compress_flag=table.get_or_add("nn_compress_flag", 9),
            nn_delta_level=table.get_or_add("nn_delta_level", 2),
            nn_residual_flag=table.get_or_add("nn_residual_flag", 1),
            nn_dc_flag=table.get_or_add("nn_dc_flag", 1),
            nn_compress_flag_cbcr=table.get_or_add("nn_compress_flag_cbcr", 1),
            nn_lf_ctb_flag=table.get_or_add("nn_lf_ctb_flag", 6),
        )
        register_residual_contexts(table)
        return cls(**tree, transform_skip_flag=table.get_or_add("transform_skip_flag", 2),
                   cclm_mode_flag=table.get_or_add("cclm_mode_flag", 1),
                   cclm_mode_idx=table.get_or_add("cclm_mode_idx", 1),
                   alf_ctb_flag=table.get_or_add("alf_ctb_flag", 9))


def _build() -> tuple[ContextTable, HostContexts]:
    table = ContextTable()
    tree = HostContexts.register(table)
    for name, (inits, shifts) in TRAINED_INIT.items():
        table.set_trained(name, inits, shifts)
    table.freeze()
    return table, tree


CONTEXT_TABLE, HOST_CONTEXTS = _build()
