"""The DSL's desk: the web view the Function App serves (pages, forms, the call timeline), behind App Service
Authentication with app roles. Pure: requests in, responses out; the store is reached through ``desk.data``."""
