"""Joint form endpoints (常州 附件1)."""
