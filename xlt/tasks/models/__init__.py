"""Each task family's Lightning model, one module per family (``xlt.tasks.models.<family>``) on the common
:class:`~xlt.tasks.models.base.TaskModel`. The families (xlt.tasks.<family>) import them when they build a
model, so that discovering the families and planning an experiment imports no Lightning."""
