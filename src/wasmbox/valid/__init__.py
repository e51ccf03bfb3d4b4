"""valid"""
