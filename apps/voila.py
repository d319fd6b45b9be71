"""Voila's configuration for the presenter app (``make app``; read by ``voila`` through
``--Voila.config_file_paths=apps``). Each option says why it is here."""

c = get_config()  # noqa: F821 (traitlets' config loader defines it)

# The presenter's own machine: listen on localhost only, on voila's usual port, and leave the
# browser to the presenter (a server on a lecture laptop should not pop a window).
c.Voila.ip = "127.0.0.1"
c.Voila.port = 8866
c.Voila.open_browser = False

# The page: the course's template (apps/jupyter/voila/templates/vae-course-app, found through
# JUPYTER_PATH=apps/jupyter): voila's lab template without its two Font Awesome links to a CDN,
# so that no request leaves the machine, and with projector-size widgets.
c.VoilaConfiguration.template = "vae-course-app"
c.VoilaConfiguration.theme = "light"
# Render the page at once and run the cells from the page: each output appears as its cell
# runs, so on a cold start the training progress (cell 1) is on screen while the models train,
# instead of voila's spinner over the whole page until the last cell is done.
c.VoilaConfiguration.progressive_rendering = True
# No tracebacks on the projector; they go to the server's log.
c.VoilaConfiguration.show_tracebacks = False

# One kernel per open page, and none left when the page is gone. Voila 0.5.13 has a shutdown
# endpoint (/voila/api/shutdown/<id>) but its page never calls it, so a closed or reloaded page
# leaves its kernel (about 0.5 GB) running until the server stops. Jupyter server's culler
# stops it: every `cull_interval` seconds it shuts down each kernel that has been idle for
# `cull_idle_timeout` seconds and, with `cull_connected = False`, has no page connected. An open
# page keeps its kernel however long the presenter talks; a busy kernel (training on a cold
# start) is never culled (`cull_busy` is False by default).
c.MappingKernelManager.cull_idle_timeout = 60
c.MappingKernelManager.cull_interval = 10
c.MappingKernelManager.cull_connected = False
