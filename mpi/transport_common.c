/* Pieces shared by the transport backends. */
#include "mpi/transport.h"
#include "core/value.h"

int sf__bye_exchange(sf_transport *t, const sf_msg_hdr *bye) {
    int rc;
    for (int p = 0; p < t->nparties; p++)
        if (p != t->self && (rc = t->ops->send(t, p, bye, NULL))) return rc;
    for (int p = 0; p < t->nparties; p++) {
        if (p == t->self) continue;
        sf_msg_hdr h;
        sf_value *v = NULL;
        if ((rc = t->ops->recv(t, p, NULL, &h, &v))) return rc;
        sf_value_unref(&v);
        if (h.kind != SF_MSG_BYE || h.call_seq != bye->call_seq || h.trace != bye->trace)
            t->hooks.on_bye_mismatch(t->hooks.arg, p, &h);
    }
    return SF_OK;
}
