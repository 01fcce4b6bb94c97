"""Server-rendered web pages (session login): the joint form 附件1 for schools and their stations."""
