"""Lineage: one graph of what came from what, across relay and external producers.

    graph        record nodes and edges (inside the caller's transaction), link them as a use
                 case with an audit entry, and walk the graph upstream and downstream with one
                 recursive SQL query per direction
    openlineage  OpenLineage RunEvents in (mapped into the same graph) and out (events for
                 relay's own pipeline runs, and an emitter that POSTs them elsewhere)
    local        LocalLineageOps, the in-process operations of LocalBackend

The kinds of nodes and the form of their keys are listed in :mod:`relayml.lineage.graph`.
"""
