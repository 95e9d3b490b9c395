"""Real servers and peers the nodes talk to: prosody, the XMPP and CoAP sinks.

Every service is a context manager that starts a process inside a namespace (argv lists, no
shell), waits until it is ready (with a timeout and an error naming its log) and stops it on
exit, keeping the log. Not here: the namespaces themselves (backends/), the scenario (experiment/).
"""
