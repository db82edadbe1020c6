"""History: every assessment kept, compared, and judged again under today's rules.

- :mod:`.store`: :func:`open_store` (SQLite file or ``postgresql://`` URL) and :class:`Store`
  (``save``, ``list``, ``get``, ``latest``, ``iter_all``, ``export_to``/``import_from``), and the
  journal of a batch of domains (``start_batch``, ``save(..., batch=)``, ``record_failure``,
  ``batch_items``, ``unfinished_batch``): each domain of a batch is done exactly once;
  :func:`prepare` + :meth:`Store.save_prepared` split a save into the encoding (anywhere) and the
  writing (the one writer).
- :mod:`.record`: what is kept of one judgement (:class:`Record`, :class:`Summary`, :class:`Finding`).
- :mod:`.diff`: :func:`compare` two judgements by finding key (pure).
- :mod:`.context`: what a report shows about history (:func:`since`, :func:`trend`).

On the engine floor: it reads an assessment through a protocol and imports nothing above it.
"""

from __future__ import annotations

from .record import Finding, Record, Summary, record_of
from .store import BatchInfo, BatchItem, HistoryError, PreparedSave, Store, location, open_store, prepare

__all__ = ["BatchInfo", "BatchItem", "Finding", "HistoryError", "PreparedSave", "Record", "Store", "Summary", "location",
           "open_store", "prepare", "record_of"]
