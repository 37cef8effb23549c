"""Sex × KSCO axis metrics against KOSIS: :mod:`~coder.axis.metrics`, :mod:`~coder.axis.robust`,
:mod:`~coder.axis.references` (the reference tables), :mod:`~coder.axis.bands` (shared interval helpers).
"""
