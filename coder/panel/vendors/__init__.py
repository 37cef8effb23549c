"""One adapter per vendor (``Adapter`` in each module), looked up by :func:`coder.panel.vendor.adapter_class`.

Nothing here imports a vendor SDK at import time: each adapter imports its SDK when it builds its client.
"""
