/**
 * Who may use a node agent's endpoint (consoles and metrics) when it serves HTTPS: clients with a
 * certificate from the agent's --client-ca-file whose subject names this group (an O of the
 * certificate). The apiserver's agent-client certificate is made with it, and nothing else is:
 * a node's own client certificate from the same CA (group system:nodes) is refused, so one node
 * never reads another node's consoles. Kubernetes has no fixed name for this; the kubelet asks
 * the apiserver (webhook authorization) instead, which needs a round trip per request that the
 * one caller worth admitting does not need.
 *
 * The group carries no rights on the apiserver: no bootstrap role binds it, so the same
 * certificate presented to an apiserver that trusts the cluster CA is an ordinary user.
 */
export const AGENT_CLIENT_GROUP = 'system:shoal-apiservers';
/** The CN of the apiserver's agent-client certificate as `shoal up` and the tests issue it (the agent checks only the group). */
export const AGENT_CLIENT_USER = 'system:shoal-apiserver';
