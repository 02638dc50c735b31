from channels.auth import AuthMiddlewareStack

WebsocketAuthMiddlewareStack = AuthMiddlewareStack
