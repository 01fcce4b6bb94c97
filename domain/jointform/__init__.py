"""Joint education–police form context (常州 附件1)."""
