revision = '27c6a30d7c24'
down_revision = '3bd0d12c4e8f'
def upgrade():
    pass
