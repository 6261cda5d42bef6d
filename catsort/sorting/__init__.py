"""Moving and copying photos safely: placements, the journal, undo and earlier copies."""
