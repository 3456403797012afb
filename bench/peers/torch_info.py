"""What the PyTorch peers report about the resources they ran with."""
import re

import torch


def simd_of_torch():
    """ATen's vector level and the BLAS it calls (threadpoolctl names OpenBLAS's kernel family)."""
    m = re.search(r"CPU capability usage: (\S+)", torch.__config__.show())
    parts = [f"{m.group(1).lower()} (ATen)" if m else "unknown (ATen)"]
    try:
        import threadpoolctl

        for lib in threadpoolctl.threadpool_info():
            if lib.get("user_api") == "blas":
                parts.append(f"{lib.get('internal_api')} {lib.get('architecture') or ''}".strip())
    except Exception:
        pass
    return ", ".join(parts)
