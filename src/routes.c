/* routes: the routing table of the REST API. */
#include "routes.h"

#include "http.h"

const struct route routes_table[] = {
    {"/user", EVHTTP_REQ_POST, route_user_register},
    {"/user", EVHTTP_REQ_PUT, route_user_login},
    {"/user", EVHTTP_REQ_GET, route_user_me},
    {"/user/session", EVHTTP_REQ_DELETE, route_user_logout},
    {"/message", EVHTTP_REQ_POST, route_message_send},
    {"/message", EVHTTP_REQ_GET, route_message_list},
    {"/message/stream", EVHTTP_REQ_GET, route_message_stream},
    {"/health", EVHTTP_REQ_GET, route_health},
    {"/metrics", EVHTTP_REQ_GET, route_metrics},
    {"/ready", EVHTTP_REQ_GET, route_ready},
};

const size_t routes_count = sizeof(routes_table) / sizeof(routes_table[0]);
