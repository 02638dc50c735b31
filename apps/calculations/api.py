from ninja import Router

router = Router(tags=["calculations"])
