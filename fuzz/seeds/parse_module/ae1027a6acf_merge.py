revision = 'ae1027a6acf'
down_revision = ('1975ea83b712', "27c6a30d7c24",)
# f-strings, annotations and a match statement, which the parser must not trip over
label = f"{revision!r:>{10}} {'nested'}"
match label:
    case "x" | "y":
        pass
    case _:
        x: int = 1
