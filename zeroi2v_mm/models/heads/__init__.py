from .zeroi2v_head import ZeroI2VHead

__all__ = ['ZeroI2VHead']
