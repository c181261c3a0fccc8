revision = 'x'
def f(:
