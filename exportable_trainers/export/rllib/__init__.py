"""RLlib adapters: what a live Algorithm's policies are, described framework-neutrally.

``selection`` finds the policies to export, ``new_stack`` / ``old_stack``
describe one RLModule or Policy as a :class:`~.target.PolicyTarget`,
``connectors`` reads the observation pipeline and ``distributions`` the
action head.
"""
