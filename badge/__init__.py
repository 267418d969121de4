"""Live, signed Keurmerk trustmark badges for BeCommerce-certified webshops."""

__version__ = "0.1.0"
